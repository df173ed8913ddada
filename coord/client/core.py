"""The client's protocol core, sans I/O: xids, in-flight requests, reply matching,
lastZxidSeen, watch registration, and the frames of handshake, ping and SetWatches.

The asyncio shell (client.py) gives it records and opaque tokens (its futures) and
writes the frames it returns; it feeds back every frame received and gets back which
token completed with what, and which watch callbacks to run. Replies must come back in
xid order (ZooKeeper answers each connection FIFO); anything else is a protocol error
and the connection must be dropped. This module must never touch a socket or a clock.
"""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

from coord.client.chroot import Chroot
from coord.client.watches import Callback, WatchedEvent, WatchRegistry
from coord.protocol import records as R
from coord.protocol.errors import ErrorCode
from coord.protocol.framing import frame
from coord.protocol.jute import JuteReader, JuteWriter, MarshallingError
from coord.protocol.opcodes import AUTH_XID, NOTIFICATION_XID, PING_XID, EventType, KeeperState, OpCode

# How a request's watch is registered once its reply arrives.
WATCH_DATA, WATCH_EXISTS, WATCH_CHILD = "data", "exists", "child"
WATCH_PERSISTENT, WATCH_RECURSIVE = "persistent", "recursive"


class ProtocolError(Exception):
    """The server broke the protocol (reply out of order, undecodable frame)."""


class Pending(NamedTuple):
    xid: int
    op: int
    token: Any
    path: str | None
    watch: tuple[str, Callback] | None


class Reply(NamedTuple):
    """A request completed: `err` is 0 or an ErrorCode, `body` the decoded record."""

    token: Any
    op: int
    err: int
    body: Any
    path: str | None


class Notify(NamedTuple):
    """A watch notification and the local callbacks it wakes."""

    event: WatchedEvent
    callbacks: list[Callback]


class ClientCore:
    """One session's protocol state across connections (xids restart per connection)."""

    def __init__(self, chroot: str = "") -> None:
        """`chroot`: the connect string's chroot ("" = none); paths are the caller's, the
        wire carries them under the chroot (`coord.client.chroot`)."""
        self.chroot = Chroot(chroot)
        self.xid = 0
        self.pending: deque[Pending] = deque()
        self.last_zxid = 0
        self.session_id = 0
        self.passwd = bytes(16)
        self.watches = WatchRegistry()
        self.auth: list[tuple[str, bytes]] = []  # re-sent on every connection
        self.auth_pending: deque[Any] = deque()

    # -- outgoing -------------------------------------------------------------------------

    def connect_frame(self, timeout_ms: int, read_only: bool) -> bytes:
        request = R.ConnectRequest(0, self.last_zxid, timeout_ms, self.session_id, self.passwd, read_only)
        return frame(request.to_bytes())  # type: ignore[attr-defined]  # @jute gives records their codec

    def request(
        self, op: int, record: Any, token: Any, path: str | None = None, watch: tuple[str, Callback] | None = None
    ) -> bytes:
        """Frame a request and remember it as in flight."""
        self.xid = self.xid + 1 if self.xid < 0x7FFFFFFF else 1
        w = JuteWriter()
        R.RequestHeader(self.xid, op).encode(w)  # type: ignore[attr-defined]  # @jute gives records their codec
        if record is not None:
            self.chroot.outgoing(record).encode(w)
        self.pending.append(Pending(self.xid, op, token, path, watch))
        return frame(w.getvalue())

    def auth_frame(self, scheme: str, credential: bytes, token: Any) -> bytes:
        """An AuthPacket (xid -4). Its reply is matched apart from the xid queue: the real
        server answers auth at once, ours in order; both answer auths in order."""
        self.auth_pending.append(token)
        w = JuteWriter()
        R.RequestHeader(AUTH_XID, OpCode.auth).encode(w)  # type: ignore[attr-defined]  # @jute gives records their codec
        R.AuthPacket(0, scheme, credential).encode(w)  # type: ignore[attr-defined]  # @jute gives records their codec
        return frame(w.getvalue())

    @staticmethod
    def ping_frame() -> bytes:
        return frame(R.RequestHeader(PING_XID, OpCode.ping).to_bytes())  # type: ignore[attr-defined]  # @jute gives records their codec

    def set_watches_frame(self, token: Any) -> bytes | None:
        """SetWatches(2) re-registering every local watch, or None if there are none."""
        data, exist, child, persistent, recursive = self.watches.set_watches_lists()
        if not (data or exist or child or persistent or recursive):
            return None
        if persistent or recursive:
            rec: Any = R.SetWatches2(self.last_zxid, data, exist, child, persistent, recursive)
            return self.request(OpCode.setWatches2, rec, token)
        return self.request(OpCode.setWatches, R.SetWatches(self.last_zxid, data, exist, child), token)

    # -- incoming -------------------------------------------------------------------------

    def connected(self, payload: bytes) -> R.ConnectResponse:
        """Decode the ConnectResponse; on success adopt its session id and password."""
        try:
            resp = R.ConnectResponse.from_bytes(payload)  # type: ignore[attr-defined]  # @jute gives records their codec
        except MarshallingError as e:
            raise ProtocolError(f"bad ConnectResponse: {e}") from e
        if resp.timeOut > 0:
            self.session_id, self.passwd = resp.sessionId, bytes(resp.passwd or bytes(16))
        self.xid = 0
        return resp

    def receive(self, payload: bytes) -> Reply | Notify | None:
        """One frame from the server -> a completed request, a notification, or None
        (a ping reply)."""
        r = JuteReader(payload)
        try:
            header = R.ReplyHeader.decode(r)  # type: ignore[attr-defined]  # @jute gives records their codec
            if header.zxid > self.last_zxid:
                self.last_zxid = header.zxid
            if header.xid == NOTIFICATION_XID:
                ev = R.WatcherEvent.decode(r)  # type: ignore[attr-defined]  # @jute gives records their codec
                event = WatchedEvent(EventType(ev.type), KeeperState(ev.state), self.chroot.client_path(ev.path or ""))
                return Notify(event, self.watches.triggered(event))
            if header.xid == PING_XID:
                return None
            if header.xid == AUTH_XID:
                token = self.auth_pending.popleft() if self.auth_pending else None
                return Reply(token, OpCode.auth, header.err, None, None)
            if not self.pending or self.pending[0].xid != header.xid:
                want = self.pending[0].xid if self.pending else None
                raise ProtocolError(f"reply xid {header.xid} but the oldest request is {want}")
            p = self.pending.popleft()
            body = None
            if header.err == 0:
                cls = R.response_record(p.op)
                body = self.chroot.incoming(cls.decode(r)) if cls is not None else None
        except (MarshallingError, ValueError) as e:
            raise ProtocolError(f"undecodable reply: {e}") from e
        self._register_watch(p, header.err)
        return Reply(p.token, p.op, header.err, body, p.path)

    def _register_watch(self, p: Pending, err: int) -> None:
        if p.watch is None or p.path is None:
            return
        kind, cb = p.watch
        w = self.watches
        if err == 0:
            if kind in (WATCH_DATA, WATCH_EXISTS):
                w.add_data(p.path, cb)
            elif kind == WATCH_CHILD:
                w.add_child(p.path, cb)
            elif kind in (WATCH_PERSISTENT, WATCH_RECURSIVE):
                w.add_persistent(p.path, cb, kind == WATCH_RECURSIVE)
        elif err == ErrorCode.NONODE and kind == WATCH_EXISTS:
            w.add_exist(p.path, cb)

    def drop_pending(self) -> list[Pending]:
        """The connection is gone: every in-flight request is lost (the caller fails them)."""
        lost = list(self.pending)
        lost += [Pending(AUTH_XID, OpCode.auth, t, None, None) for t in self.auth_pending]
        self.pending.clear()
        self.auth_pending.clear()
        return lost

    def expire(self) -> None:
        """The session is gone for good: forget its id, password and watches."""
        self.session_id, self.passwd, self.last_zxid = 0, bytes(16), 0
        self.watches.clear()
