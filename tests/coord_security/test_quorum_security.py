"""Ensemble members prove who they are: sslQuorum (mutual TLS on the quorum port) and
quorum SASL (DIGEST-MD5 with the QuorumServer / QuorumLearner JAAS sections). A process
that dials a member's quorum port claiming another member's id without credentials is
dropped before anything it sends is read, and the ensemble goes on."""

from __future__ import annotations

import socket
import ssl
import struct
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_acl

from coord.zab.messages import Notification, encode
from tests.coord_ensemble.harness import Ensemble
from tests.coord_security.conftest import JAAS, SUPER_DIGEST, Pki
from tests.support.procs import ProcessGroup
from tests.support.waiting import wait_until


def _claim_sid_2(sock: socket.socket) -> bool:
    """Send what member 2 would send first (its id, then a vote); True if the member
    closed the connection on us."""
    vote = encode(Notification(round=99, state=0, vote_epoch=99, vote_zxid=1 << 40, vote_id=2))
    sock.settimeout(10)
    try:
        sock.sendall(struct.pack(">I", 2) + struct.pack(">I", len(vote)) + vote)
        return sock.recv(1) == b""
    except (ConnectionError, ssl.SSLError):
        return True


def _write_and_compare(ens: Ensemble, path: str) -> None:
    zk = KazooClient(hosts=ens.hosts(), timeout=10)
    zk.start(timeout=20)
    try:
        zk.create(path, b"still serving")
    finally:
        zk.stop()
        zk.close()
    assert path in ens.assert_identical()


def _sasl_ids_cross_members(ens: Ensemble, leader: int) -> None:
    """A SASL user's write through a follower is checked on the leader with its ids:
    the `sasl` ACL it sets holds on every member, and the super digest passes it."""
    follower, other = [s for s in ens.sids if s != leader]
    bob = KazooClient(
        hosts=ens.hosts([follower]),
        timeout=10,
        sasl_options={"mechanism": "DIGEST-MD5", "username": "bob", "password": "bobsecret"},
    )
    anyone = KazooClient(hosts=ens.hosts([other]), timeout=10)
    root = KazooClient(hosts=ens.hosts([other]), timeout=10, auth_data=[("digest", "super:adminsecret")])
    clients = (bob, anyone, root)
    for zk in clients:
        zk.start(timeout=20)
    try:
        bob.create("/bobs", b"1", acl=[make_acl("sasl", "bob", all=True)])
        anyone.sync("/bobs")
        with pytest.raises(NoAuthError):
            anyone.set("/bobs", b"2")
        root.set("/bobs", b"super")  # the other follower: checked on the leader too
        assert bob.get("/bobs")[0] in (b"1", b"super")
        bob.sync("/bobs")
        assert bob.get("/bobs")[0] == b"super"
        root.delete("/bobs")  # (the harness compares trees as anyone)
    finally:
        for zk in clients:
            zk.stop()
            zk.close()


def test_tls_and_sasl_quorum_refuses_impostors_and_keeps_serving(
    procs: ProcessGroup, tmp_path: Path, pki: Pki, jaas_file: Path
) -> None:
    ens = Ensemble(
        procs,
        tmp_path,
        3,
        extra=(
            *pki.quorum_tls_flags(),
            "-D",
            "quorum.auth.enableSasl=true",
            "-D",
            f"zookeeper.DigestAuthenticationProvider.superDigest={SUPER_DIGEST}",
            "--jaas-config",
            str(jaas_file),
        ),
    )
    ens.start()
    leader = ens.wait_leader()
    _write_and_compare(ens, "/before")
    _sasl_ids_cross_members(ens, leader)
    target = 1 if leader != 1 else 3
    port = ens.quorum_port[target]
    # 1. plaintext: not even a TLS handshake
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        assert _claim_sid_2(raw)
    # 2. TLS with a certificate from a CA the ensemble does not trust
    rogue = ssl.create_default_context(cafile=str(pki.ca.cert))
    rogue.load_cert_chain(str(pki.rogue.cert), str(pki.rogue.key))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        try:
            tls = rogue.wrap_socket(raw, server_hostname="127.0.0.1")
        except (ssl.SSLError, ConnectionError):
            pass
        else:
            assert _claim_sid_2(tls)
    # 3. a trusted certificate but no quorum SASL: the vote is taken as a SASL token
    good = ssl.create_default_context(cafile=str(pki.ca.cert))
    good.load_cert_chain(str(pki.client.cert), str(pki.client.key))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with good.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert _claim_sid_2(tls)
    # 4. a trusted certificate for another host than member 2's
    other = ssl.create_default_context(cafile=str(pki.ca.cert))
    other.load_cert_chain(str(pki.elsewhere.cert), str(pki.elsewhere.key))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with other.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert _claim_sid_2(tls)
    expected = (
        "TLS handshake failed on the quorum port: WRONG_VERSION_NUMBER",  # 1
        "TLS handshake failed on the quorum port: [SSL: CERTIFICATE_VERIFY_FAILED]",
        "failed quorum SASL",
        "does not name 127.0.0.1",
    )  # 3, 4
    wait_until("the refusals logged", lambda: all(e in procs.log_text(ens.name(target)) for e in expected), 10)
    assert ens.wait_leader() == leader
    _write_and_compare(ens, "/after")


def test_a_member_with_the_wrong_quorum_password_cannot_join(
    procs: ProcessGroup, tmp_path: Path, jaas_file: Path
) -> None:
    wrong = tmp_path / "wrong-jaas.conf"
    wrong.write_text(JAAS.replace('password="peersecret"', 'password="guessed"'))
    ens = Ensemble(procs, tmp_path, 3, extra=("-D", "quorum.auth.enableSasl=true", "--jaas-config", str(jaas_file)))
    ens.start(1, 2)
    ens.extra = ("-D", "quorum.auth.enableSasl=true", "--jaas-config", str(wrong))
    ens.start(3)
    leader = ens.wait_leader([1, 2])
    wait_until(
        "member 3 refused by both others",
        lambda: all("claiming server id 3 failed quorum SASL" in procs.log_text(ens.name(s)) for s in (1, 2)),
    )
    assert ens.mode(3) is None  # it never serves: no quorum will have it
    assert "refused" in procs.log_text(ens.name(3))
    with socket.create_connection(("127.0.0.1", ens.quorum_port[leader]), timeout=5) as raw:
        assert _claim_sid_2(raw)  # no TLS here: SASL alone turns the claim away
    assert ens.wait_leader([1, 2]) == leader
    zk = KazooClient(hosts=ens.hosts([1, 2]), timeout=10)
    zk.start(timeout=20)
    try:
        zk.create("/two-of-three", b"")
    finally:
        zk.stop()
        zk.close()
