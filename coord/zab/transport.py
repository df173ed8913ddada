"""Peer links of an ensemble over TCP: one outgoing connection per peer, frames in order.

Each member listens on its quorum port and dials every other member for the messages
it sends (so a pair talks over two one-way connections and no tie-breaking is needed).
A connection opens with the dialer's server id (u32), then carries frames
``u32 header | bytes``: the header's low 31 bits are the frame's length (at most
MAX_FRAME), its top bit says the message continues in the next frame; a message
(coord.zab.messages, msgpack) is its frames' bytes joined. Messages are cut into
frames of FRAGMENT bytes, so one proposal larger than a frame (a closeSession listing
very many ephemerals) still crosses, up to MAX_MESSAGE; the ZAB core keeps every other
message to about a MiB. A frame for a peer that is not
connected waits in a bounded queue while reconnecting; when the queue is full the
oldest frames are dropped, which the ZAB core tolerates (it re-sends what matters).
A connection that breaks is reported (`on_lost`), whichever direction it carried, and
the frames still queued for it are dropped. With `LinkSecurity` (coord.zab.link_security)
links run over mutual TLS and/or begin with a quorum SASL handshake; a link that fails
it is closed before any frame is read and is never reported to the core.

This module moves bytes only: it must never interpret a message beyond decoding it,
and never block the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import struct
from collections import deque
from collections.abc import Callable

from coord.security.tls_accept import TlsAcceptor
from coord.zab.link_security import LinkRefusedError, LinkSecurity, authenticate_from, authenticate_to
from coord.zab.messages import Message, MessageError, decode, encode

log = logging.getLogger("coord.zab.transport")

_U32 = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024
FRAGMENT = 16 * 1024 * 1024
MAX_MESSAGE = 1 << 30
_MORE = 1 << 31
QUEUE_LIMIT = 10_000


class _Outgoing:
    """Frames to one peer, and the task that keeps a connection to it."""

    def __init__(self) -> None:
        self.frames: deque[bytes] = deque(maxlen=QUEUE_LIMIT)
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None


class PeerNetwork:
    def __init__(
        self,
        sid: int,
        addresses: dict[int, tuple[str, int]],
        on_message: Callable[[int, Message], None],
        retry: float = 0.1,
        on_lost: Callable[[int], None] | None = None,
        security: LinkSecurity = LinkSecurity(),
    ) -> None:
        self.sid = sid
        self.security = security
        self.addresses = addresses
        self.on_message = on_message
        self.on_lost = on_lost
        self.retry = retry
        self._out = {peer: _Outgoing() for peer in addresses if peer != sid}
        self._server: asyncio.Server | None = None
        self._tls: TlsAcceptor | None = None
        self._readers: set[asyncio.Task[None]] = set()
        self._incoming: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        host, port = self.addresses[self.sid]
        if self.security.server_ssl is None:
            self._server = await asyncio.start_server(self._accept, host, port)
        else:
            loop = asyncio.get_running_loop()
            self._tls = TlsAcceptor(
                self.security.server_ssl,
                self.security.timeout,
                lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader(), self._accept),
                "the quorum port",
            )
            self._server = await loop.create_server(self._tls, host, port)
        for peer, out in self._out.items():
            out.task = asyncio.create_task(self._dial(peer, out), name=f"zab-dial-{peer}")

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._tls is not None:
            self._tls.close()
        dialers = [o.task for o in self._out.values() if o.task]
        for task in dialers:
            task.cancel()
        # Readers end by their sockets closing, not by cancellation: asyncio logs a
        # cancelled connection callback as an error.
        for writer in self._incoming:
            writer.close()
        await asyncio.gather(*dialers, *self._readers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def send(self, to: int, msg: Message) -> None:
        out = self._out.get(to)
        if out is not None:
            out.frames.append(encode(msg))
            out.ready.set()

    async def _dial(self, peer: int, out: _Outgoing) -> None:
        host, port = self.addresses[peer]
        while True:
            writer = None
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port, ssl=self.security.client_ssl), self.security.timeout
                )
                writer.write(_U32.pack(self.sid))
                await authenticate_to(reader, writer, self.security)
            except (TimeoutError, OSError, LinkRefusedError) as e:
                if writer is not None:
                    writer.close()
                refused = isinstance(e, (LinkRefusedError, ssl.SSLError))
                if refused:
                    log.warning("link %d -> %d refused: %s", self.sid, peer, e)
                # A refusal will not heal by itself: retry slowly, and quietly.
                await asyncio.sleep(1.0 if refused else self.retry)
                continue
            # The peer never sends on this connection: its end of file (or a reset) is
            # how we learn the link died even while we have nothing to send.
            pump = asyncio.ensure_future(self._pump(out, writer))
            closed = asyncio.ensure_future(reader.read(1))
            try:
                await asyncio.wait([pump, closed], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (pump, closed):
                    task.cancel()
                results = await asyncio.gather(pump, closed, return_exceptions=True)
                writer.close()
            log.debug("link %d -> %d lost: %s", self.sid, peer, results)
            # What was queued for the dead connection is stale by the time a new one
            # opens (a forwarded client write, say, whose client has given up); the core
            # re-sends what it still needs. Losing a link we send on is losing the peer,
            # as much as losing the one it sends on.
            out.frames.clear()
            if self.on_lost is not None:
                self.on_lost(peer)
            await asyncio.sleep(self.retry)

    @staticmethod
    async def _pump(out: _Outgoing, writer: asyncio.StreamWriter) -> None:
        while True:
            if not out.frames:
                out.ready.clear()
                await out.ready.wait()
            batch: list[bytes | memoryview] = []
            while out.frames:
                batch.extend(_frames(out.frames.popleft()))
            writer.writelines(batch)
            await writer.drain()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._readers.add(task)
        self._incoming.add(writer)
        sender = None
        try:
            (claimed,) = _U32.unpack(await asyncio.wait_for(reader.readexactly(4), self.security.timeout))
            address = self.addresses.get(claimed) if claimed != self.sid else None
            await authenticate_from(reader, writer, self.security, claimed, address[0] if address else None)
            sender = claimed
            parts: list[bytes] = []
            total = 0
            while True:
                (head,) = _U32.unpack(await reader.readexactly(4))
                size = head & ~_MORE
                total += size
                if size > MAX_FRAME or total > MAX_MESSAGE:
                    raise MessageError(
                        f"peer {sender} sent a {size}-byte frame of a {total}-byte "
                        f"message (limits {MAX_FRAME}, {MAX_MESSAGE})"
                    )
                parts.append(await reader.readexactly(size))
                if head & _MORE:
                    continue
                body = parts[0] if len(parts) == 1 else b"".join(parts)
                parts, total = [], 0
                self.on_message(sender, decode(body))
        except LinkRefusedError as exc:
            log.warning("refused a quorum link from %s: %s", writer.get_extra_info("peername"), exc)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, MessageError) as exc:
            log.debug("incoming link closed: %s", exc)
            if sender is not None and self.on_lost is not None:
                self.on_lost(sender)
        finally:
            self._readers.discard(task)
            self._incoming.discard(writer)
            writer.close()


def _frames(message: bytes) -> list[bytes | memoryview]:
    """A message as headers and bodies of FRAGMENT-byte frames (no copy of the body)."""
    if len(message) <= FRAGMENT:
        return [_U32.pack(len(message)), message]
    view = memoryview(message)
    out: list[bytes | memoryview] = []
    for start in range(0, len(message), FRAGMENT):
        piece = view[start : start + FRAGMENT]
        more = _MORE if start + FRAGMENT < len(message) else 0
        out += [_U32.pack(len(piece) | more), piece]
    return out
