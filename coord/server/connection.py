"""One client connection: handshake, request dispatch, in-order replies, notifications.

Bytes arrive, frames come out of the codec's FrameReader, and each request takes a
*slot* in this connection's reply queue, in arrival order:

- a write is prepared at once (so a pipelined client keeps the group commit busy) and
  its slot fills when the server has logged and applied its txn;
- a read (and ping, auth, sync, watch calls) runs as soon as every earlier slot of this
  connection is answered, i.e. after this session's earlier writes are applied and before
  its later ones are: per-session FIFO, and a read never sees a write it preceded;
- replies leave strictly in slot order; watch notifications are written the moment
  their txn is applied, so they precede the reply of any later read that sees the change.

The first 4 bytes of a connection may be a four-letter word instead of a frame length.
Who the client is (digest auth, SASL, its certificate) is kept by coord.server.client_auth.

Limits (ZooKeeper's): at most `max_client_cnxns` connections per client address (more are
closed at once); a connection that has not sent its ConnectRequest within
`sessionless_cnxn_timeout_ms` is closed (one that stalls later, even mid-frame, stops
touching its session and is closed when the session expires); past
`global_outstanding_limit` unanswered requests over all clients, reading pauses.
This module must never change the tree (only the server's pipeline does) and never let a
bad frame raise out of `data_received`: bad input ends in an error reply or a close.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from coord.protocol import records as R
from coord.protocol.errors import ErrorCode
from coord.protocol.framing import FrameError, FrameReader
from coord.protocol.jute import JuteReader, JuteWriter, MarshallingError
from coord.protocol.opcodes import NOTIFICATION_XID, KeeperState, OpCode
from coord.security.digest_md5 import SaslError
from coord.security.tls import subject_of
from coord.server import fourletter, reads
from coord.server import prep as P
from coord.server.client_auth import ClientAuth
from coord.server.clock import mono_ms, now_ms
from coord.server.sessions import SessionTracker, negotiate_timeout
from coord.server.throttle import OutstandingLimit
from coord.server.txn import Applied, Txn

log = logging.getLogger("coord.server.connection")

MAX_SLOTS = 1000  # pause reading beyond this many unanswered requests
_OPCODES: dict[int, OpCode] = {int(op): op for op in OpCode}
READ_OPS = frozenset(
    {
        OpCode.exists,
        OpCode.getData,
        OpCode.getChildren,
        OpCode.getChildren2,
        OpCode.getACL,
        OpCode.sync,
        OpCode.getEphemerals,
        OpCode.getAllChildrenNumber,
        OpCode.checkWatches,
        OpCode.removeWatches,
        OpCode.addWatch,
        OpCode.setWatches,
        OpCode.setWatches2,
        OpCode.whoAmI,
        OpCode.multiRead,
        OpCode.ping,
        OpCode.auth,
    }
)
WRITE_OPS = frozenset(
    {
        OpCode.create,
        OpCode.create2,
        OpCode.createContainer,
        OpCode.createTTL,
        OpCode.delete,
        OpCode.setData,
        OpCode.setACL,
        OpCode.multi,
    }
)


class Slot:
    """One request's place in the reply order; `update` says whether its latency counts
    as ZooKeeper's updatelatency (a transaction) or readlatency."""

    __slots__ = ("data", "run", "received", "update")

    def __init__(self, received: int, run: Callable[[], bytes | None] | None = None, update: bool = False) -> None:
        self.data: bytes | None = None
        self.run = run
        self.received = received
        self.update = update


class Host(fourletter.Source, Protocol):
    """What a connection needs of its server (standalone CoordServer or EnsembleServer)."""

    tracker: SessionTracker
    outstanding_limit: OutstandingLimit
    session_conns: dict[int, Any]
    connections: list[Connection]

    def new_session(self, timeout: int, on_applied: Applied) -> tuple[int, bytes]: ...
    def session_valid(self, sid: int, password: bytes) -> bool: ...
    def touch_session(self, sid: int, now: int, timeout: int | None = None) -> bool: ...
    def close_session(self, sid: int, on_applied: Applied | None = None) -> None: ...
    def sync(self, done: Callable[[], None]) -> None: ...
    def write(
        self,
        session: int,
        op: tuple,
        ids: list[tuple[str, str]],
        now: int,
        done: Callable[[P.Prepared, list[Any]], None],
    ) -> None: ...


class Connection(asyncio.Protocol):
    def __init__(self, server: Host) -> None:
        self.server = server
        self.reader = FrameReader(server.config.max_buffer)
        self.transport: asyncio.Transport | None = None
        self.peer = ("?", 0)
        self.state = "new"  # new -> connecting -> open -> closed
        self.session_id = 0
        self.timeout = 0
        self.old_client = False
        self.slots: deque[Slot] = deque()
        self.backlog: list[bytes] = []
        self.auth = ClientAuth(server.config.security_settings, "?")
        self.prefix: bytes | None = b""
        self.paused = False
        self.out: list[bytes] = []
        self.flush_scheduled = False
        self.write_paused = False
        self.closing_after_flush = False
        self.created = self.last_response = now_ms()
        self.recved = self.sent = 0
        self.last_op: OpCode | None = None
        self.last_cxid, self.last_zxid, self.last_latency = 0, 0, 0
        self.lat_min = self.lat_max = self.lat_total = self.lat_count = 0
        self._sessionless_timer: asyncio.TimerHandle | None = None
        self.unread: deque[bytes] = deque()  # frames read, not handled while paused
        self.taking = False

    # -- asyncio callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a stream server's (TLS ones too)
        self.transport = transport
        self.peer = transport.get_extra_info("peername") or ("?", 0)
        limit = self.server.config.max_client_cnxns
        if limit and sum(1 for c in self.server.connections if c.peer[0] == self.peer[0]) >= limit:
            log.warning("Too many connections from %s - max is %d", self.peer[0], limit)
            self.state = "closed"
            transport.abort()
            return
        self.server.connections.append(self)
        self.auth = ClientAuth(
            self.server.config.security_settings, str(self.peer[0]), subject_of(transport.get_extra_info("peercert"))
        )
        self._sessionless_timer = asyncio.get_running_loop().call_later(
            self.server.config.sessionless_cnxn_timeout_ms / 1000, self._sessionless_expired
        )

    def _sessionless_expired(self) -> None:
        if self.state == "new":
            log.info(
                "closing %s:%s: no ConnectRequest within %d ms",
                *self.peer[:2],
                self.server.config.sessionless_cnxn_timeout_ms,
            )
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._sessionless_timer is not None:
            self._sessionless_timer.cancel()
        if self.state == "closed":
            return
        self.state = "closed"
        self.server.outstanding_limit.answered(len(self.slots))
        self.server.outstanding_limit.forget(self)
        if self in self.server.connections:
            self.server.connections.remove(self)
        self.server.watches.remove_watcher(self)
        if self.session_id and self.server.session_conns.get(self.session_id) is self:
            del self.server.session_conns[self.session_id]
        self.slots.clear()
        self.unread.clear()

    def pause_writing(self) -> None:
        self.write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._update_reading()

    def data_received(self, data: bytes) -> None:
        if self.prefix is not None:
            # The first 4 bytes decide: a four-letter word, or the first frame's length.
            self.prefix += data
            if len(self.prefix) < 4:
                return
            if self.prefix[0] == 0x16 and self.prefix[1] == 0x03:
                log.info(
                    "closing %s:%s: a TLS handshake on the plaintext client port "
                    "(TLS clients belong on secureClientPort)",
                    *self.peer[:2],
                )
                self.close()
                return
            word = fourletter.word_of(int.from_bytes(self.prefix[:4], "big", signed=True))
            if word is not None:
                self._four_letter(word)
                return
            data, self.prefix = self.prefix, None
        try:
            frames = self.reader.feed(data)
        except FrameError as e:
            log.info("closing %s:%s: %s", *self.peer[:2], e)
            self.close()
            return
        self.unread.extend(frames)
        self._take_frames()

    def _take_frames(self) -> None:
        """Handle the frames read so far, one at a time, until reading pauses: a paused
        connection handles no more (the rest wait here, at most one read's worth)."""
        if self.taking:
            return
        self.taking = True
        try:
            while self.unread and not self.paused and self.state != "closed":
                self._on_frame(self.unread.popleft())
        finally:
            self.taking = False

    # -- framing and dispatch --------------------------------------------------------------

    def _on_frame(self, frame: bytes) -> None:
        self.server.stats.received += 1
        self.recved += 1
        if self.state == "new":
            self._connect(frame)
        elif self.state == "connecting":
            self.backlog.append(frame)
        else:
            self._request(frame)

    def _request(self, frame: bytes) -> None:
        received = mono_ms()  # latencies and session liveness: durations
        try:
            r = JuteReader(frame)
            header = R.RequestHeader.decode(r)  # type: ignore[attr-defined]  # @jute gives records their codec
        except MarshallingError:
            self.close()
            return
        self.server.touch_session(self.session_id, received)
        self.last_cxid = header.xid
        op = _OPCODES.get(header.type)
        self.last_op = op
        if not self.auth.allows(op):
            self._queue(
                Slot(received, lambda: self._error(header.xid, ErrorCode.SESSIONCLOSEDREQUIRESASLAUTH, close=True))
            )
        elif op == OpCode.sasl and self.auth.sasl_enabled:
            self._queue(Slot(received, lambda: self._sasl(header.xid, r)))
        elif op in WRITE_OPS:
            self._write_request(header.xid, op, r, received)
        elif op == OpCode.sync:
            self._sync(header.xid, r, received)
        elif op in READ_OPS:
            self._queue(Slot(received, lambda: self._read_reply(header.xid, op, r)))
        elif op == OpCode.closeSession:
            self._close_session(header.xid, received)
        else:
            # unknown opcode, notification (0), check alone, sasl, reconfig: ZooKeeper's
            # UnimplementedRequestProcessor answers UNIMPLEMENTED and drops the connection.
            self._queue(Slot(received, lambda: self._error(header.xid, ErrorCode.UNIMPLEMENTED, close=True)))

    def _add_slot(self, slot: Slot) -> None:
        self.slots.append(slot)
        self.server.outstanding_limit.taken()

    def _queue(self, slot: Slot) -> None:
        self._add_slot(slot)
        if len(self.slots) == 1 and slot.run is not None:
            self._drain()
        else:
            self._update_reading()

    def _drain(self) -> None:
        slots = self.slots
        while slots and self.state != "closed":
            head = slots[0]
            if head.data is None:
                if head.run is None:
                    break
                head.data = head.run()
            slots.popleft()
            self.server.outstanding_limit.answered()
            if head.data:
                self._send(head.data, head.received, head.update)
        self._update_reading()
        if self.closing_after_flush and not slots:
            self.close()

    def update_reading(self) -> None:
        """Re-check whether to read (the global outstanding limit may have cleared)."""
        self._update_reading()

    def _update_reading(self) -> None:
        if self.transport is None or self.state == "closed":
            return
        throttled = self.server.outstanding_limit.over and bool(self.slots)
        if throttled:
            self.server.outstanding_limit.stopped(self)
        want_pause = self.write_paused or len(self.slots) > MAX_SLOTS or throttled
        if want_pause != self.paused:
            self.paused = want_pause
            (self.transport.pause_reading if want_pause else self.transport.resume_reading)()
            if not want_pause and self.unread:
                asyncio.get_running_loop().call_soon(self._take_frames)

    def _send(self, payload: bytes, received: int | None = None, update: bool = False) -> None:
        """Queue one frame; frames queued in the same loop iteration leave in one write
        (one syscall for a whole group commit's worth of replies)."""
        if self.transport is None or self.state == "closed":
            return
        self.out.append(len(payload).to_bytes(4, "big"))
        self.out.append(payload)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        stats = self.server.stats
        stats.sent += 1
        stats.record_response(len(payload))
        self.sent += 1
        if received is not None:
            latency = mono_ms() - received
            self.last_response, self.last_latency = now_ms(), latency
            stats.record_latency(latency, update)
            if self.lat_count == 0 or latency < self.lat_min:
                self.lat_min = latency
            self.lat_max = max(self.lat_max, latency)
            self.lat_total += latency
            self.lat_count += 1

    def _flush(self) -> None:
        self.flush_scheduled = False
        if self.out and self.transport is not None and self.state != "closed":
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def close(self) -> None:
        if self.transport is not None and self.state != "closed":
            self._flush()
            self.transport.close()
        self.connection_lost(None)

    def close_after_flush(self) -> None:
        """Close once every reply queued so far has been written (closeSession, expiry)."""
        self.closing_after_flush = True
        if not self.slots:
            self.close()

    # -- replies ---------------------------------------------------------------------------

    def _reply(self, xid: int, err: int = 0, body: Any = None, zxid: int | None = None) -> bytes:
        w = JuteWriter()
        R.ReplyHeader(xid, self.server.tree.last_zxid if zxid is None else zxid, err).encode(w)  # type: ignore[attr-defined]  # @jute gives records their codec
        if body is not None and err == 0:
            body.encode(w)
        self.last_zxid = self.server.tree.last_zxid
        return w.getvalue()

    def _error(self, xid: int, code: int, close: bool = False) -> bytes:
        if close:
            self.closing_after_flush = True
        return self._reply(xid, code)

    def send_event(self, etype: int, path: str) -> None:
        """A watch fired: notifications bypass the reply queue (they may come anywhere)."""
        w = JuteWriter()
        R.ReplyHeader(NOTIFICATION_XID, -1, 0).encode(w)  # type: ignore[attr-defined]  # @jute gives records their codec
        R.WatcherEvent(etype, KeeperState.SYNC_CONNECTED, path).encode(w)  # type: ignore[attr-defined]  # @jute gives records their codec
        self._send(w.getvalue())

    # -- handshake -------------------------------------------------------------------------

    def _connect(self, frame: bytes) -> None:
        if not self.server.serving:
            # An ensemble member without a quorum: the client moves on to another.
            self.close()
            return
        try:
            r = JuteReader(frame)
            req = R.ConnectRequest.decode(r)  # type: ignore[attr-defined]  # @jute gives records their codec
        except MarshallingError:
            self.close()
            return
        self.old_client = req.readOnly is None
        server = self.server
        if req.lastZxidSeen > server.tree.last_zxid:
            log.info(
                "closing %s:%s: client has seen zxid 0x%x, we have 0x%x",
                *self.peer[:2],
                req.lastZxidSeen,
                server.tree.last_zxid,
            )
            self.close()
            return
        cfg = server.config
        timeout = negotiate_timeout(req.timeOut, cfg.min_session_timeout_ms, cfg.max_session_timeout_ms)
        if req.sessionId == 0:
            self.state = "connecting"

            def created(txn: Txn, _results: list) -> None:
                self._established(txn.body[0], timeout, txn.body[2])

            server.new_session(timeout, created)
            return
        sid, password = req.sessionId, bytes(req.passwd or b"")
        if not server.session_valid(sid, password):
            self._send_connect_response(0, 0, bytes(16))
            self.close_after_flush()
            return
        old = server.session_conns.get(sid)
        if old is not None and old is not self:
            old.close()
        server.touch_session(sid, mono_ms(), timeout)
        self._established(sid, timeout, password)

    def _send_connect_response(self, timeout: int, sid: int, password: bytes) -> None:
        w = JuteWriter()
        response = R.ConnectResponse(0, timeout, sid, password, None if self.old_client else False)
        response.encode(w)  # type: ignore[attr-defined]  # @jute gives records their codec
        self._send(w.getvalue())

    def _established(self, sid: int, timeout: int, password: bytes) -> None:
        if self.state == "closed":
            return
        self.session_id, self.timeout, self.state = sid, timeout, "open"
        self.server.session_conns[sid] = self
        self._send_connect_response(timeout, sid, password)
        backlog, self.backlog = self.backlog, []
        for frame in backlog:
            if self.state != "open":
                break
            self._request(frame)

    # -- writes ----------------------------------------------------------------------------

    def _write_request(self, xid: int, op: OpCode, r: JuteReader, received: int) -> None:
        slot = Slot(received, update=True)
        self._add_slot(slot)
        self._update_reading()
        server = self.server
        if not server.tracker.is_alive(self.session_id):
            slot.data = self._reply(xid, ErrorCode.SESSIONEXPIRED)
            self._drain()
            return
        try:
            op_tuple = decode_write(op, r)
        except (MarshallingError, ValueError):
            slot.data = self._reply(xid, ErrorCode.MARSHALLINGERROR)
            self._drain()
            return

        def applied(prepared: P.Prepared, results: list) -> None:
            slot.data = self._write_reply(xid, op, op_tuple, prepared, results)
            self._drain()

        server.write(self.session_id, op_tuple, self.ids, now_ms(), applied)

    def _write_reply(self, xid: int, op: OpCode, op_tuple: tuple, prepared: P.Prepared, results: list) -> bytes:
        if op == OpCode.multi:
            return self._reply(xid, 0, multi_response(op_tuple[1], prepared, results))
        if prepared.err:
            return self._reply(xid, prepared.err)
        return self._reply(xid, 0, single_response(op, results[0]))

    def _close_session(self, xid: int, received: int) -> None:
        slot = Slot(received, update=True)
        self._add_slot(slot)

        def applied(txn: Txn, _results: list) -> None:
            slot.data = self._reply(xid)
            self.closing_after_flush = True
            self._drain()

        self.server.close_session(self.session_id, applied)

    def _sync(self, xid: int, r: JuteReader, received: int) -> None:
        """Answered once this server has caught up with the leader as of now (at once
        when standalone or leading); replies still leave in request order."""
        slot = Slot(received)
        self._add_slot(slot)
        self._update_reading()

        def caught_up() -> None:
            if self.state != "closed":
                slot.data = self._read_reply(xid, OpCode.sync, r)
                self._drain()

        self.server.sync(caught_up)

    # -- reads -----------------------------------------------------------------------------

    def _read_reply(self, xid: int, op: OpCode, r: JuteReader) -> bytes | None:
        try:
            if op == OpCode.ping:
                return self._reply(xid)
            if op == OpCode.auth:
                return self._auth(xid, R.AuthPacket.decode(r))  # type: ignore[attr-defined]  # @jute gives records their codec
            if op in (OpCode.setWatches, OpCode.setWatches2):
                for _, etype, path in reads.set_watches(self.server.tree, self.server.watches, self, op, r):
                    self.send_event(etype, path)
                return self._reply(xid)
            who = reads.Reader(self, self.ids, self.session_id)
            err, body = reads.answer_read(self.server.tree, self.server.watches, who, op, r)
            return self._reply(xid, err, body)
        except (MarshallingError, ValueError):
            return self._reply(xid, ErrorCode.MARSHALLINGERROR)

    def _auth(self, xid: int, packet: R.AuthPacket) -> bytes:
        if self.auth.digest(packet.scheme or "", bytes(packet.auth or b"")):
            return self._reply(xid, 0, zxid=0)
        self.closing_after_flush = True
        self.server.stats.auth_failed += 1
        return self._reply(xid, ErrorCode.AUTHFAILED, zxid=0)

    def _sasl(self, xid: int, r: JuteReader) -> bytes:
        """One SASL token in, the next out (ZooKeeper answers with zxid 0); a failed
        exchange ends the connection."""
        try:
            out = self.auth.sasl_step(bytes(R.GetSASLRequest.decode(r).token or b""))  # type: ignore[attr-defined]  # @jute gives records their codec
        except (SaslError, MarshallingError) as e:
            log.warning("closing %s:%s: SASL authentication failed: %s", *self.peer[:2], e)
            return self._error(xid, self.auth.sasl_failure_code, close=True)
        if self.auth.sasl_user is not None:
            log.info("session 0x%x: SASL user %s", self.session_id & (2**64 - 1), self.auth.sasl_user)
        return self._reply(xid, 0, R.SetSASLResponse(out), zxid=0)

    @property
    def ids(self) -> list[tuple[str, str]]:
        """Who this connection is, for ACL checks."""
        return self.auth.ids

    # -- 4lw and cons ----------------------------------------------------------------------

    def _four_letter(self, word: str) -> None:
        self.recved = 1
        text = fourletter.render(word, self.server, mono_ms())
        self.state = "closed"
        if self in self.server.connections:
            self.server.connections.remove(self)
        assert self.transport is not None
        self.transport.write(text.encode())
        self.transport.close()

    def info(self, full: bool) -> dict[str, Any]:
        """This connection as ZooKeeper's getConnectionInfo shows it (`cons`, `stat`)."""
        host, port = self.peer[:2]
        out: dict[str, Any] = {
            "remote_socket_address": f"{host}:{port}",
            "interest_ops": 1 if self.state == "open" and not self.paused else 0,
            "outstanding_requests": len(self.slots),
            "packets_received": self.recved,
            "packets_sent": self.sent,
        }
        if not full or not self.session_id:
            return out
        avg = round(self.lat_total / self.lat_count, 4) if self.lat_count else 0.0
        out.update(
            {
                "session_id": self.session_id & (2**64 - 1),
                "last_operation": self.last_op.name.upper() if self.last_op is not None else "NA",
                "established": self.created,
                "session_timeout": self.timeout,
                "last_cxid": self.last_cxid & 0xFFFFFFFF,
                "last_zxid": self.last_zxid,
                "last_response_time": self.last_response,
                "last_latency": self.last_latency,
                "min_latency": self.lat_min,
                "avg_latency": avg,
                "max_latency": self.lat_max,
            }
        )
        return out

    def reset_stats(self) -> None:
        """`crst`: this connection's counters and latencies start again."""
        self.recved = self.sent = 0
        self.last_cxid, self.last_zxid, self.last_latency = 0, 0, 0
        self.last_op = None
        self.lat_min = self.lat_max = self.lat_total = self.lat_count = 0


def decode_write(op: OpCode, r: JuteReader) -> tuple:
    """A write request body -> the op tuple `prep` takes."""
    if op == OpCode.multi:
        return (P.OP_MULTI, [(sub_op, *_write_fields(sub_op, rec)) for sub_op, rec in R.decode_multi_request(r)])
    rec = R.request_record(op).decode(r)
    return (int(op), *_write_fields(int(op), rec))


def _write_fields(op: int, rec: Any) -> tuple:
    if op in P.CREATE_OPS:
        return (rec.path or "", rec.data, _acl_tuples(rec.acl), rec.flags, getattr(rec, "ttl", -1))
    if op == P.OP_DELETE or op == P.OP_CHECK:
        return (rec.path or "", rec.version)
    if op == P.OP_SET_DATA:
        return (rec.path or "", rec.data, rec.version)
    if op == P.OP_SET_ACL:
        return (rec.path or "", _acl_tuples(rec.acl), rec.version)
    raise ValueError(f"opcode {op} is not a write")


def _acl_tuples(acl: list | None) -> list:
    return [(a.perms, a.id.scheme or "", a.id.id or "") for a in (acl or [])]


def single_response(op: OpCode, result: Any) -> Any:
    if op == OpCode.create:
        return R.CreateResponse(result[0])
    if op in (OpCode.create2, OpCode.createContainer, OpCode.createTTL):
        return R.Create2Response(result[0], result[1])
    if op == OpCode.setData:
        return R.SetDataResponse(result)
    if op == OpCode.setACL:
        return R.SetACLResponse(result)
    return None


def multi_response(ops: list[tuple], prepared: P.Prepared, results: list) -> Any:
    """ZooKeeper's per-op multi results; a failed multi answers with error results only."""
    if prepared.multi_errors is not None:
        return R.MultiResponse([R.ErrorResult(e) for e in prepared.multi_errors])
    out: list[Any] = []
    for op, result in zip(ops, results, strict=True):
        code = op[0]
        if code == P.OP_CREATE:
            out.append(R.CreateResult(result[0]))
        elif code in P.CREATE_OPS:
            out.append(R.Create2Result(result[0], result[1]))
        elif code == P.OP_SET_DATA:
            out.append(R.SetDataResult(result))
        elif code == P.OP_DELETE:
            out.append(R.DeleteResult())
        else:
            out.append(R.CheckResult())
    return R.MultiResponse(out)
