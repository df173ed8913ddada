"""The fault proxy itself: the faults other tests rely on must really happen."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from typing import ClassVar

import pytest

from tests.support.faultproxy import FaultProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def roundtrip(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def test_forwards_both_ways(echo_port: int) -> None:
    with FaultProxy(echo_port) as proxy, socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5) as s:
        assert roundtrip(s, b"hello" * 1000) == b"hello" * 1000


def test_cut_resets_open_connections_and_refuses_new_ones(echo_port: int) -> None:
    with FaultProxy(echo_port) as proxy:
        s = socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5)
        assert roundtrip(s, b"x") == b"x"
        proxy.cut()
        with pytest.raises(OSError):
            for _ in range(3):  # a reset may surface on the send or on the next recv
                s.sendall(b"y")
                if s.recv(1) == b"":
                    raise ConnectionResetError("closed")
        s.close()
        s2 = socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5)
        s2.settimeout(2)
        assert s2.recv(1) == b""  # accepted by the kernel, then dropped by the proxy
        s2.close()
        proxy.heal()
        with socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5) as s3:
            assert roundtrip(s3, b"back") == b"back"


def test_blackhole_drops_bytes_silently(echo_port: int) -> None:
    with FaultProxy(echo_port) as proxy, socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5) as s:
        assert roundtrip(s, b"a") == b"a"
        proxy.blackhole()
        s.settimeout(0.5)
        s.sendall(b"lost")
        with pytest.raises(socket.timeout):
            s.recv(10)
        proxy.heal()
        s.settimeout(5)
        assert roundtrip(s, b"b") == b"b"


def test_delay_holds_each_chunk(echo_port: int) -> None:
    with FaultProxy(echo_port) as proxy, socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5) as s:
        proxy.delay(0.3)
        start = time.monotonic()
        assert roundtrip(s, b"slow") == b"slow"
        assert time.monotonic() - start >= 0.55  # delayed on the way in and on the way out


class _Recorder(socketserver.BaseRequestHandler):
    """Echoes, and remembers what reached the server (to prove requests got through)."""

    received: ClassVar[list[bytes]] = []  # one list for every handler the server makes

    def handle(self) -> None:
        while data := self.request.recv(65536):
            _Recorder.received.append(data)
            self.request.sendall(data)


def test_drop_replies_lets_the_request_through_and_swallows_the_answer() -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Recorder)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with FaultProxy(server.server_address[1]) as proxy:
            s = socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5)
            assert roundtrip(s, b"a") == b"a"
            proxy.drop_replies(1, then_cut=True)
            s.sendall(b"written")
            with pytest.raises(OSError):  # reset, never the answer
                if s.recv(16) == b"":
                    raise ConnectionResetError("closed")
            s.close()
            assert b"written" in _Recorder.received and proxy.replies_dropped == 1
            s2 = socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5)
            try:
                with pytest.raises(OSError):  # then_cut: new connections are reset at once
                    if s2.recv(1) == b"":
                        raise ConnectionResetError("closed")
            finally:
                s2.close()
            proxy.heal()
            with socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5) as s3:
                assert roundtrip(s3, b"back") == b"back"
    finally:
        server.shutdown()
        server.server_close()


def test_reset_on_forwards_the_marked_request_then_resets_once(echo_port: int) -> None:
    with FaultProxy(echo_port) as proxy:
        s = socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5)
        proxy.reset_on(b"MARK")
        assert roundtrip(s, b"plain") == b"plain"  # other requests pass
        s.sendall(b"with MARK inside")
        with pytest.raises(OSError):  # reset, never the echo
            if s.recv(64) == b"":
                raise ConnectionResetError("closed")
        s.close()
        assert proxy.resets_on_marker == 1
        with socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5) as s2:
            assert roundtrip(s2, b"MARK again") == b"MARK again"  # once only
