"""A blocking one-request-at-a-time client built on the coord.protocol codec, for tests
that need opcodes kazoo does not send (addWatch, setWatches, multiRead, getEphemerals,
...) or control over the handshake (reattach with a given session and lastZxidSeen)."""

from __future__ import annotations

import socket

from coord.protocol import records as R
from coord.protocol.framing import FrameReader, frame
from coord.protocol.jute import JuteReader
from coord.protocol.opcodes import OpCode


class RawClient:
    def __init__(
        self, port: int, session_id: int = 0, passwd: bytes = bytes(16), last_zxid: int = 0, timeout_ms: int = 4000
    ) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader = FrameReader()
        self.frames: list[bytes] = []
        self.events: list[tuple[int, str]] = []
        self.xid = 0
        self.sock.sendall(frame(R.ConnectRequest(0, last_zxid, timeout_ms, session_id, passwd, False).to_bytes()))
        self.session = R.ConnectResponse.from_bytes(self._next_frame())

    def _next_frame(self) -> bytes:
        while not self.frames:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            self.frames.extend(self.reader.feed(data))
        return self.frames.pop(0)

    def call(self, op: OpCode, record=None):
        """Send one request; return (err, zxid, response record or None). Notifications
        that arrive first are collected in `events`."""
        self.xid += 1
        body = R.RequestHeader(self.xid, int(op)).to_bytes()
        if record is not None:
            body += record.to_bytes()
        self.sock.sendall(frame(body))
        while True:
            r = JuteReader(self._next_frame())
            header = R.ReplyHeader.decode(r)
            if header.xid == -1:
                event = R.WatcherEvent.decode(r)
                self.events.append((event.type, event.path))
                continue
            assert header.xid == self.xid, (header, self.xid)
            cls = R.response_record(op)
            if header.err or cls is None:
                return header.err, header.zxid, None
            return 0, header.zxid, cls.decode(r)

    def create(
        self, path: str, data: bytes | None = b"", flags: int = 0, op: OpCode = OpCode.create, ttl: int | None = None
    ):
        if op == OpCode.createTTL:
            rec = R.CreateTTLRequest(path, data, R.OPEN_ACL_UNSAFE, flags, ttl)
        else:
            rec = R.CreateRequest(path, data, R.OPEN_ACL_UNSAFE, flags)
        return self.call(op, rec)

    def close(self) -> None:
        self.sock.close()
