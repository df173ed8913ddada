"""TLS on the client port (ZooKeeper's secureClientPort): kazoo's TLS options, our
CoordClient's ssl_context, client certificates (x509 ids), and TLS/plaintext mix-ups."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.exceptions import NoAuthError as KazooNoAuth
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.security import make_acl

from coord.client import CoordClient
from coord.protocol import records as R
from coord.protocol.errors import NoAuthError
from tests.coord_security.conftest import Pki, SecureCoord, start_secure
from tests.support.ports import free_port
from tests.support.procs import ProcessGroup
from tests.support.waiting import wait_until


def _tls_kazoo(coord: SecureCoord, pki: Pki, cert=None, key=None) -> KazooClient:
    return KazooClient(
        hosts=coord.secure_hosts,
        use_ssl=True,
        verify_certs=True,
        ca=str(pki.ca.cert),
        certfile=str(cert or pki.client.cert),
        keyfile=str(key or pki.client.key),
        timeout=5,
        connection_retry={"max_tries": 0},
    )


def test_kazoo_with_tls_reads_and_writes(secure_coord: SecureCoord, pki: Pki) -> None:
    zk = _tls_kazoo(secure_coord, pki)
    zk.start(timeout=10)
    try:
        zk.create("/tls-kazoo", b"over tls")
        assert zk.get("/tls-kazoo")[0] == b"over tls"
        # ZooKeeper's x509 provider: the certificate's subject is an id ACLs can name.
        zk.create("/tls-x509", b"", acl=[make_acl("x509", "CN=client,O=pybroker tests", all=True)])
        assert zk.get("/tls-x509")[0] == b""
    finally:
        zk.stop()
        zk.close()
    plain = KazooClient(hosts=secure_coord.hosts, timeout=5)
    plain.start(timeout=10)
    try:
        with pytest.raises(KazooNoAuth):
            plain.get("/tls-x509")
    finally:
        plain.stop()
        plain.close()


async def test_coord_client_with_an_ssl_context(secure_coord: SecureCoord, pki: Pki) -> None:
    ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
    ctx.load_cert_chain(str(pki.client.cert), str(pki.client.key))
    client = CoordClient(secure_coord.secure_hosts, session_timeout=5.0, ssl_context=ctx)
    await client.start()
    try:
        await client.create("/tls-coordclient", b"ours")
        assert (await client.get("/tls-coordclient"))[0] == b"ours"
        await client.create("/tls-only-x509", b"", acl=[R.ACL(31, R.Id("x509", "CN=client,O=pybroker tests"))])
    finally:
        await client.stop()
    plain = CoordClient(secure_coord.hosts, session_timeout=5.0)
    await plain.start()
    try:
        with pytest.raises(NoAuthError):
            await plain.get("/tls-only-x509")
    finally:
        await plain.stop()


def _handshake(port: int, ctx: ssl.SSLContext) -> None:
    """A TLS handshake plus one read: with TLS 1.3 a refused client certificate shows up
    on the first read, after the handshake itself has returned."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall((45).to_bytes(4, "big") + bytes(45))  # a ConnectRequest of zeros
            if not tls.recv(4):
                raise ConnectionResetError("closed by the server")


def test_a_client_without_a_certificate_is_refused_when_clientauth_is_need(secure_coord: SecureCoord, pki: Pki) -> None:
    no_cert = ssl.create_default_context(cafile=str(pki.ca.cert))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _handshake(secure_coord.secure_port, no_cert)
    rogue = ssl.create_default_context(cafile=str(pki.ca.cert))
    rogue.load_cert_chain(str(pki.rogue.cert), str(pki.rogue.key))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _handshake(secure_coord.secure_port, rogue)
    good = ssl.create_default_context(cafile=str(pki.ca.cert))
    good.load_cert_chain(str(pki.client.cert), str(pki.client.key))
    _handshake(secure_coord.secure_port, good)
    # The socket closes a moment before the server's log line is written.
    wait_until(
        "both refusals logged",
        lambda: (
            "PEER_DID_NOT_RETURN_A_CERTIFICATE" in secure_coord.log()
            and "CERTIFICATE_VERIFY_FAILED" in secure_coord.log()
        ),
        10,
    )


def test_kazoo_refuses_a_server_its_ca_did_not_sign(secure_coord: SecureCoord, pki: Pki) -> None:
    zk = KazooClient(
        hosts=secure_coord.secure_hosts,
        use_ssl=True,
        verify_certs=True,
        ca=str(pki.rogue_ca.cert),
        certfile=str(pki.client.cert),
        keyfile=str(pki.client.key),
        timeout=2,
        connection_retry={"max_tries": 0},
    )
    with pytest.raises((KazooException, KazooTimeoutError)):
        zk.start(timeout=3)
    zk.close()


def test_plaintext_on_the_tls_port_and_tls_on_the_plaintext_port_are_closed(
    secure_coord: SecureCoord, pki: Pki
) -> None:
    # A plaintext ZooKeeper client on the TLS port: its ConnectRequest is no TLS record.
    with socket.create_connection(("127.0.0.1", secure_coord.secure_port), timeout=5) as s:
        s.sendall((45).to_bytes(4, "big") + bytes(45))
        received = b""
        try:
            while chunk := s.recv(100):  # at most a TLS alert, then the end
                received += chunk
                assert len(received) < 100
        except ConnectionError:
            pass
        assert received[:1] in (b"", b"\x15"), received  # nothing, or a TLS alert record
    wait_until(
        "the plaintext client logged", lambda: "not TLS (a plaintext client on the TLS port?)" in secure_coord.log(), 10
    )
    # A TLS client on the plaintext port: its ClientHello is no frame; the server says so.
    ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _handshake(secure_coord.port, ctx)
    assert "a TLS handshake on the plaintext client port" in secure_coord.log()
    # ... and both ports go on serving.
    zk = _tls_kazoo(secure_coord, pki)
    zk.start(timeout=10)
    zk.stop()
    zk.close()
    zk = KazooClient(hosts=secure_coord.hosts, timeout=5)
    zk.start(timeout=10)
    assert zk.exists("/") is not None
    zk.stop()
    zk.close()


def test_sasl_login_over_tls_carries_both_ids(secure_coord: SecureCoord, pki: Pki) -> None:
    zk = KazooClient(
        hosts=secure_coord.secure_hosts,
        use_ssl=True,
        verify_certs=True,
        ca=str(pki.ca.cert),
        certfile=str(pki.client.cert),
        keyfile=str(pki.client.key),
        timeout=5,
        sasl_options={"mechanism": "DIGEST-MD5", "username": "bob", "password": "bobsecret"},
    )
    zk.start(timeout=10)
    try:
        zk.create("/tls-and-sasl", b"", acl=[make_acl("auth", "", all=True)])
        ids = {(a.id.scheme, a.id.id) for a in zk.get_acls("/tls-and-sasl")[0]}
        assert ids == {("sasl", "bob"), ("x509", "CN=client,O=pybroker tests")}
    finally:
        zk.stop()
        zk.close()


def test_clientauth_want_takes_clients_with_and_without_certificates(
    procs: ProcessGroup, tmp_path: Path, pki: Pki
) -> None:
    port = free_port()
    coord = start_secure(procs, tmp_path / "data", "want", *pki.client_tls_flags(port, "want"), secure_port=port)
    anonymous = KazooClient(hosts=coord.secure_hosts, use_ssl=True, verify_certs=True, ca=str(pki.ca.cert), timeout=5)
    anonymous.start(timeout=10)
    try:
        anonymous.create("/want", b"", acl=[make_acl("x509", "CN=client,O=pybroker tests", all=True)])
        with pytest.raises(KazooNoAuth):  # no certificate, no x509 id
            anonymous.get("/want")
    finally:
        anonymous.stop()
        anonymous.close()
    with_cert = _tls_kazoo(coord, pki)
    with_cert.start(timeout=10)
    try:
        assert with_cert.get("/want")[0] == b""
    finally:
        with_cert.stop()
        with_cert.close()


def test_a_silent_tls_client_neither_holds_the_port_nor_the_shutdown(
    procs: ProcessGroup, tmp_path: Path, pki: Pki
) -> None:
    port = free_port()
    coord = start_secure(
        procs,
        tmp_path / "short",
        "short",
        *pki.client_tls_flags(port),
        "-D",
        "ssl.handshakeDetectionTimeoutMillis=1000",
        secure_port=port,
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as silent:
        assert _closed(silent)  # dropped after the 1 s handshake deadline
    wait_until("the deadline logged", lambda: "no TLS handshake within" in coord.log(), 10)
    port = free_port()
    start_secure(procs, tmp_path / "long", "long", *pki.client_tls_flags(port), secure_port=port)
    silent = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
    try:
        assert procs.stop("long", timeout=8) == 0  # handshakes still pending (10 s deadline)
    finally:
        for s in silent:
            s.close()


def _closed(s: socket.socket) -> bool:
    s.settimeout(10)
    try:
        return s.recv(1) == b""
    except ConnectionError:
        return True
