"""Byte-level behaviour on a raw socket: the handshake, four-letter words, and bad input
(garbage, huge lengths, truncated frames, unknown opcodes) that must never hurt others."""

from __future__ import annotations

import socket
import struct

import pytest
from kazoo.client import KazooClient

from tests.support.waiting import wait_until

# ConnectRequest from the reference, section 12.1: timeout 30000, new session.
CONNECT = bytes.fromhex(
    "0000002d000000000000000000000000000075300000000000000000000000100000000000000000000000000000000000"
)


def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(CONNECT)
    return s


def _recv_frame(s: socket.socket) -> bytes:
    head = _recv_exact(s, 4)
    return _recv_exact(s, struct.unpack(">i", head)[0])


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def _closed(s: socket.socket, timeout: float = 5.0) -> bool:
    s.settimeout(timeout)
    try:
        while True:
            if not s.recv(4096):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _four(port: int, word: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(word + b"\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out.decode()


def _still_serving(shared_coord) -> None:
    kz = KazooClient(hosts=shared_coord.hosts, timeout=5)
    kz.start(timeout=10)
    assert "zookeeper" in kz.get_children("/")
    kz.stop()
    kz.close()


def test_handshake_bytes(shared_coord) -> None:
    with _connect(shared_coord.port) as s:
        body = _recv_frame(s)
        assert len(body) == 37
        proto, timeout, sid, pwlen = struct.unpack(">iiqi", body[:20])
        assert (proto, timeout, pwlen) == (0, 4000, 16)  # clamped to 20 x tick of 200 ms
        assert sid >> 56 == 1 and body[-1] == 0
        s.sendall(bytes.fromhex("00000008fffffffe0000000b"))  # ping
        xid, zxid, err = struct.unpack(">iqi", _recv_frame(s))
        assert (xid, err) == (-2, 0) and zxid > 0
        s.sendall(bytes.fromhex("0000000800000007fffffff5"))  # closeSession, xid 7
        xid, _, err = struct.unpack(">iqi", _recv_frame(s))
        assert (xid, err) == (7, 0)
        assert _closed(s)


def test_wrong_password_gets_expired_reply(shared_coord) -> None:
    with _connect(shared_coord.port) as s:
        sid = struct.unpack(">q", _recv_frame(s)[8:16])[0]
    bad = bytearray(CONNECT)
    bad[4 + 16 : 4 + 24] = struct.pack(">q", sid)
    bad[4 + 28 : 4 + 44] = b"x" * 16
    with socket.create_connection(("127.0.0.1", shared_coord.port), timeout=5) as s:
        s.sendall(bytes(bad))
        body = _recv_frame(s)
        assert struct.unpack(">iiqi", body[:20]) == (0, 0, 0, 16) and body[20:36] == bytes(16)
        assert _closed(s)


def test_client_from_the_future_is_refused(shared_coord) -> None:
    future = bytearray(CONNECT)
    future[8:16] = struct.pack(">q", 1 << 40)
    with socket.create_connection(("127.0.0.1", shared_coord.port), timeout=5) as s:
        s.sendall(bytes(future))
        assert _closed(s)


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xff\xff\xf0garbage",  # negative length
        struct.pack(">i", 0x7FFFFFF0) + b"x" * 100,  # far beyond jute.maxbuffer
        struct.pack(">i", 0x100000) + b"x" * 10,  # just beyond it
    ],
)
def test_bad_lengths_close_the_connection(shared_coord, payload: bytes) -> None:
    with socket.create_connection(("127.0.0.1", shared_coord.port), timeout=5) as s:
        s.sendall(payload)
        assert _closed(s)
    _still_serving(shared_coord)


def test_truncated_frame_and_garbage_connect(shared_coord) -> None:
    with socket.create_connection(("127.0.0.1", shared_coord.port), timeout=5) as s:
        s.sendall(CONNECT[:20])  # cut mid-frame, then hang up
    with socket.create_connection(("127.0.0.1", shared_coord.port), timeout=5) as s:
        s.sendall(struct.pack(">i", 5) + b"\x01\x02\x03\x04\x05")  # not a ConnectRequest
        assert _closed(s)
    _still_serving(shared_coord)


def test_unknown_opcode_unimplemented_then_close(shared_coord) -> None:
    with _connect(shared_coord.port) as s:
        _recv_frame(s)
        s.sendall(struct.pack(">iii", 8, 5, 999))
        xid, _, err = struct.unpack(">iqi", _recv_frame(s))
        assert (xid, err) == (5, -6)
        assert _closed(s)


def test_undecodable_body_is_marshalling_error(shared_coord) -> None:
    with _connect(shared_coord.port) as s:
        _recv_frame(s)
        # getData (4) whose path length claims 1000 bytes that are not there
        s.sendall(struct.pack(">iiii", 12, 3, 4, 1000))
        xid, _, err = struct.unpack(">iqi", _recv_frame(s))
        assert (xid, err) == (3, -5)
    _still_serving(shared_coord)


def test_four_letter_words(shared_coord) -> None:
    port = shared_coord.port
    assert _four(port, b"ruok") == "imok"
    assert _four(port, b"isro") == "rw"
    srvr = dict(line.split(": ", 1) for line in _four(port, b"srvr").splitlines())
    assert srvr["Mode"] == "standalone" and srvr["Zookeeper version"].startswith("3.8")
    assert int(srvr["Zxid"], 16) >= 0 and int(srvr["Node count"]) >= 5
    mntr = dict(line.split("\t") for line in _four(port, b"mntr").splitlines())
    assert mntr["zk_server_state"] == "standalone" and int(mntr["zk_znode_count"]) >= 5
    assert float(mntr["zk_avg_latency"]) >= 0
    conf = dict(line.split("=", 1) for line in _four(port, b"conf").splitlines())
    assert conf["clientPort"] == str(port) and conf["tickTime"] == "200"
    assert conf["minSessionTimeout"] == "400" and conf["maxSessionTimeout"] == "4000"
    kz = KazooClient(hosts=shared_coord.hosts, timeout=5)
    kz.start(timeout=10)
    try:
        kz.exists("/zookeeper", watch=lambda e: None)
        wchs = _four(port, b"wchs").splitlines()
        assert wchs[0].endswith("paths") and wchs[1].startswith("Total watches:")
        assert int(wchs[1].split(":")[1]) >= 1
        cons = [line for line in _four(port, b"cons").splitlines() if "sid=0x" in line]
        assert any(f"sid=0x{kz.client_id[0]:x}" in line for line in cons)
        stat = _four(port, b"stat")
        assert "Clients:" in stat and "Mode: standalone" in stat
        assert _four(port, b"envi").startswith("Environment:")
    finally:
        kz.stop()
        kz.close()


def test_many_idle_connections(shared_coord) -> None:
    socks = []
    try:
        for _ in range(1000):
            socks.append(socket.create_connection(("127.0.0.1", shared_coord.port), timeout=5))
        wait_until(
            "the server counting 1000 live connections",
            lambda: (
                int(
                    dict(line.split("\t") for line in _four(shared_coord.port, b"mntr").splitlines())[
                        "zk_num_alive_connections"
                    ]
                )
                >= 1000
            ),
            15,
        )
        _still_serving(shared_coord)
    finally:
        for s in socks:
            s.close()


def test_watch_and_dump_words(shared_coord) -> None:
    kz = KazooClient(hosts=shared_coord.hosts, timeout=5)
    kz.start(timeout=10)
    try:
        kz.create("/dumped", ephemeral=True)
        kz.exists("/dumped", watch=lambda e: None)
        sid = f"0x{kz.client_id[0]:x}"
        wchc = _four(shared_coord.port, b"wchc")
        assert f"{sid}\n\t/dumped\n" in wchc
        wchp = _four(shared_coord.port, b"wchp")
        assert f"/dumped\n\t{sid}\n" in wchp
        dump = _four(shared_coord.port, b"dump")
        assert "ephemeral nodes dump:" in dump and f"{sid}:\n\t/dumped" in dump
    finally:
        kz.stop()
        kz.close()
