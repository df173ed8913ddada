"""SASL DIGEST-MD5 on the client port, as ZooKeeper does it: kazoo's sasl_options log in
against the JAAS Server section's users, `sasl` ACLs hold, the super digest and
zookeeper.superUser pass every ACL, and broken exchanges end only their own connection."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import AuthFailedError, NoAuthError
from kazoo.security import make_acl, make_digest_acl

from coord.client import CoordClient
from coord.protocol import records as R
from coord.protocol.errors import AuthFailedError as CoordAuthFailed
from coord.protocol.errors import ErrorCode
from coord.protocol.errors import NoAuthError as CoordNoAuth
from coord.protocol.jute import JuteReader, JuteWriter
from coord.protocol.opcodes import OpCode
from tests.coord_security.conftest import SecureCoord, start_secure
from tests.support.procs import ProcessGroup


def _sasl_kazoo(coord: SecureCoord, user: str, password: str, mechanism: str = "DIGEST-MD5") -> KazooClient:
    return KazooClient(
        hosts=coord.hosts,
        timeout=5,
        connection_retry={"max_tries": 0},
        sasl_options={"mechanism": mechanism, "username": user, "password": password},
    )


def _stop(zk: KazooClient) -> None:
    zk.stop()
    zk.close()


def _refused(zk: KazooClient) -> None:
    """kazoo reports CONNECTED before its SASL exchange, so a refusal shows either in
    start() or in the first request."""
    with pytest.raises(AuthFailedError):
        zk.start(timeout=5)
        zk.get_children("/")
    _stop(zk)


def test_kazoo_sasl_login_and_sasl_acls(secure_coord: SecureCoord) -> None:
    bob = _sasl_kazoo(secure_coord, "bob", "bobsecret")
    bob.start(timeout=10)
    try:
        bob.create("/sasl-bob", b"bob's", acl=[make_acl("sasl", "bob", all=True)])
        assert bob.get("/sasl-bob")[0] == b"bob's"
        assert [(a.id.scheme, a.id.id) for a in bob.get_acls("/sasl-bob")[0]] == [("sasl", "bob")]
        # the `auth` scheme expands to the SASL id, as in ZooKeeper
        bob.create("/sasl-auth", b"", acl=[make_acl("auth", "", all=True)])
        assert [(a.id.scheme, a.id.id) for a in bob.get_acls("/sasl-auth")[0]] == [("sasl", "bob")]
    finally:
        _stop(bob)
    carol = _sasl_kazoo(secure_coord, "carol", "carolsecret")
    carol.start(timeout=10)
    anonymous = KazooClient(hosts=secure_coord.hosts, timeout=5)
    anonymous.start(timeout=10)
    try:
        for other in (carol, anonymous):
            with pytest.raises(NoAuthError):
                other.get("/sasl-bob")
            with pytest.raises(NoAuthError):
                other.set("/sasl-bob", b"mine now")
    finally:
        _stop(carol)
        _stop(anonymous)


def test_wrong_password_unknown_user_and_wrong_mechanism_are_refused(secure_coord: SecureCoord) -> None:
    _refused(_sasl_kazoo(secure_coord, "bob", "not-bobs"))
    _refused(_sasl_kazoo(secure_coord, "mallory", "bobsecret"))
    _refused(_sasl_kazoo(secure_coord, "bob", "bobsecret", mechanism="PLAIN"))
    log = secure_coord.log()
    assert "SASL authentication failed: wrong username or password (user 'bob')" in log
    assert "is the client using another mechanism?" in log
    assert "bobsecret" not in log and "not-bobs" not in log  # no password is ever logged


def test_super_digest_and_sasl_super_user_pass_every_acl(secure_coord: SecureCoord) -> None:
    owner = KazooClient(hosts=secure_coord.hosts, timeout=5, auth_data=[("digest", "dave:davesecret")])
    owner.start(timeout=10)
    try:
        owner.create("/locked", b"dave's", acl=[make_digest_acl("dave", "davesecret", all=True)])
    finally:
        _stop(owner)
    digest_super = KazooClient(hosts=secure_coord.hosts, timeout=5, auth_data=[("digest", "super:adminsecret")])
    sasl_super = _sasl_kazoo(secure_coord, "super", "adminsecret")
    not_super = KazooClient(hosts=secure_coord.hosts, timeout=5, auth_data=[("digest", "super:guess")])
    for zk in (digest_super, sasl_super, not_super):
        zk.start(timeout=10)
    try:
        assert digest_super.get("/locked")[0] == b"dave's"
        digest_super.set("/locked", b"super was here")
        assert sasl_super.get("/locked")[0] == b"super was here"
        with pytest.raises(NoAuthError):
            not_super.get("/locked")
    finally:
        for zk in (digest_super, sasl_super, not_super):
            _stop(zk)


# -- raw exchanges: what a broken or hostile client can do ------------------------------


def _frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def _read_frame(s: socket.socket) -> bytes | None:
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    (size,) = struct.unpack(">i", head)
    body = b""
    while len(body) < size:
        chunk = s.recv(size - len(body))
        if not chunk:
            return None
        body += chunk
    return body


def _session(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    w = JuteWriter()
    R.ConnectRequest(0, 0, 5000, 0, bytes(16), False).encode(w)
    s.sendall(_frame(w.getvalue()))
    assert _read_frame(s) is not None
    return s


def _sasl_packet(xid: int, token: bytes) -> bytes:
    w = JuteWriter()
    R.RequestHeader(xid, int(OpCode.sasl)).encode(w)
    R.GetSASLRequest(token).encode(w)
    return _frame(w.getvalue())


def _reply(s: socket.socket) -> tuple[R.ReplyHeader, JuteReader] | None:
    frame = _read_frame(s)
    if frame is None:
        return None
    r = JuteReader(frame)
    return R.ReplyHeader.decode(r), r


def _closed(s: socket.socket) -> bool:
    try:
        return s.recv(1) == b""
    except ConnectionError:
        return True


def test_an_exchange_that_stops_halfway_holds_nothing(secure_coord: SecureCoord) -> None:
    s = _session(secure_coord.port)
    s.sendall(_sasl_packet(1, b""))
    header, r = _reply(s)
    assert header.err == 0 and b"nonce=" in R.SetSASLResponse.decode(r).token
    s.close()  # gone before answering the challenge
    bob = _sasl_kazoo(secure_coord, "bob", "bobsecret")
    bob.start(timeout=10)
    assert bob.exists("/") is not None
    _stop(bob)


def test_garbage_and_huge_tokens_end_the_connection_with_authfailed(secure_coord: SecureCoord) -> None:
    for second in (b"no directives here", b"username=" + b"x" * 200_000):
        s = _session(secure_coord.port)
        s.sendall(_sasl_packet(1, b""))
        assert _reply(s)[0].err == 0
        s.sendall(_sasl_packet(2, second))
        header, _ = _reply(s)
        assert (header.xid, header.err) == (2, ErrorCode.AUTHFAILED)
        assert _closed(s)
        s.close()
    # A token bigger than jute.maxbuffer never reaches SASL: the frame itself is refused.
    s = _session(secure_coord.port)
    try:
        s.sendall(_sasl_packet(1, b"x" * (2 << 20)))
    except ConnectionError:
        pass  # closed on reading the length, before we finished sending
    assert _closed(s)
    s.close()
    zk = KazooClient(hosts=secure_coord.hosts, timeout=5)
    zk.start(timeout=10)
    assert zk.exists("/") is not None
    _stop(zk)


def test_enforced_sasl_refuses_sessions_that_did_not_log_in(
    procs: ProcessGroup, tmp_path: Path, jaas_file: Path
) -> None:
    coord = start_secure(
        procs,
        tmp_path / "data",
        "enforcing",
        "--jaas-config",
        str(jaas_file),
        "-D",
        "enforce.auth.enabled=true",
        "-D",
        "enforce.auth.schemes=sasl",
    )
    s = _session(coord.port)
    w = JuteWriter()
    R.RequestHeader(1, int(OpCode.getChildren)).encode(w)
    R.GetChildrenRequest("/", False).encode(w)
    s.sendall(_frame(w.getvalue()))
    header, _ = _reply(s)
    assert (header.xid, header.err) == (1, ErrorCode.SESSIONCLOSEDREQUIRESASLAUTH)
    assert _closed(s)
    s.close()
    bob = _sasl_kazoo(coord, "bob", "bobsecret")
    bob.start(timeout=10)
    try:
        assert "zookeeper" in bob.get_children("/")
    finally:
        _stop(bob)
    # A failed login under enforcement says SASL is required.
    s = _session(coord.port)
    s.sendall(_sasl_packet(1, b"\0bob\0bobsecret"))
    header, _ = _reply(s)
    assert header.err == ErrorCode.SESSIONCLOSEDREQUIRESASLAUTH
    s.close()


async def test_coord_client_sasl_login_and_refusal(secure_coord: SecureCoord) -> None:
    bob = CoordClient(
        secure_coord.hosts,
        session_timeout=5.0,
        sasl_options={"mechanism": "DIGEST-MD5", "username": "bob", "password": "bobsecret"},
    )
    await bob.start()
    try:
        assert ("sasl", "bob") in await bob.who_am_i()
        await bob.create("/coordclient-sasl", b"x", acl=[R.ACL(31, R.Id("sasl", "bob"))])
        assert (await bob.get("/coordclient-sasl"))[0] == b"x"
    finally:
        await bob.stop()
    carol = CoordClient(
        secure_coord.hosts,
        session_timeout=5.0,
        sasl_options={"mechanism": "DIGEST-MD5", "username": "carol", "password": "carolsecret"},
    )
    await carol.start()
    try:
        with pytest.raises(CoordNoAuth):
            await carol.get("/coordclient-sasl")
    finally:
        await carol.stop()
    wrong = CoordClient(
        secure_coord.hosts,
        session_timeout=5.0,
        sasl_options={"mechanism": "DIGEST-MD5", "username": "bob", "password": "guess"},
    )
    with pytest.raises(CoordAuthFailed):
        await wrong.start()
    await wrong.stop()
    with pytest.raises(ValueError, match="DIGEST-MD5 only"):
        CoordClient(secure_coord.hosts, sasl_options={"mechanism": "PLAIN", "username": "bob", "password": "bobsecret"})
