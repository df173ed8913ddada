"""One client connection on Kafka's protocol: read frames, run requests concurrently, answer in order.

Reading and writing are two loops joined by a bounded queue of (request header, task) in arrival
order. The reader cuts length-prefixed frames (`FrameDecoder`, limited to socket.request.max.bytes),
decodes each with `kafka_frames.decode_request` and starts its handler at once, so a slow Fetch
long poll does not stop later Produce requests from being appended; the writer awaits the tasks
strictly in order and writes each response, sending the record bytes of a Fetch response with
sendfile straight from the segment files (the file slices sit in the response's `records` fields).
An acks=0 Produce gets no response.

Limits: at most queued.max.requests requests of this connection wait for their answers, and no
read starts while the broker-wide `RequestBytes` is full; past either, reading stops (the
client's bytes wait in the socket buffers) and nothing is dropped. The writer waits for the
socket to drain after every response, so a client that sends without reading is stopped by
its own full socket, not buffered. `idle_for` tells the broker how long nothing moved.

Refusals, as Kafka's: an ApiVersions request of a version we do not serve is answered with
UNSUPPORTED_VERSION and our version table in the v0 layout (so any client can learn what we
speak); any other API key or version we do not serve, a body that does not decode, or a bad
frame (negative or oversized length, shorter than a header, truncated at EOF) closes this
connection only, after the answers to the requests before it.

Security, per listener (`broker.security.endpoint.ListenerRuntime`): the connection's `Session`
(listener, principal from the TLS client certificate or SASL, peer host) is made current in the
context every request task runs in. On a SASL listener, until authentication succeeds only
ApiVersions, SaslHandshake and SaslAuthenticate are served, in arrival order by the reader
itself (the next request must see the outcome), and after a SaslHandshake v0 the frames are bare
SASL tokens answered bare; anything else, or a failed authentication (after its response),
closes the connection. The same holds while a client re-authenticates (KIP-368: a SaslHandshake
on an authenticated connection); a request that arrives after the session's lifetime ended
without re-authentication closes the connection unanswered, as Kafka's SocketServer does.
Under TLS, fetch data is read and written (the kernel cannot sendfile into an encrypted stream).
This module must never interpret request bodies other than SASL tokens' routing.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import time
from typing import Any

from broker.security import session as sessions
from broker.security.endpoint import ListenerRuntime
from broker.security.sasl_server import SASL_APIS
from broker.server.connection_quotas import RequestBytes
from broker.server.handlers import api_versions, dispatch
from broker.server.handlers.common import BrokerContext, Reply, Slice, slices_of
from client.protocol.api import ApiKey
from client.protocol.frames import FrameDecoder, FrameError
from client.protocol.kafka_frames import RequestHeader, UnsupportedRequestError, decode_request, response_parts

log = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
# Before SASL authentication completes, frames are capped at Kafka's sasl.server.max.receive.size:
# an unauthenticated peer must not make us buffer socket.request.max.bytes.
SASL_MAX_RECEIVE_BYTES = 524288
# A TLS handshake record (content type 22, version 3.x): what an SSL client sends first.
TLS_RECORD_START = b"\x16\x03"
_SENDFILE_UNSUPPORTED = (NotImplementedError, AttributeError)
# The header of a bare SASL token's answer (after SaslHandshake v0): no response header is written.
RAW_SASL = RequestHeader(ApiKey.SASL_AUTHENTICATE, 0, -1, None)

# (header, the reply's task, the version to encode the response in: None = the request's,
#  the request's size in bytes)
_Item = tuple[RequestHeader, "asyncio.Future[Reply | None]", int | None, int]


def _done(reply: Reply) -> asyncio.Future[Reply | None]:
    fut: asyncio.Future[Reply | None] = asyncio.get_running_loop().create_future()
    fut.set_result(reply)
    return fut


class Connection:
    def __init__(
        self,
        ctx: BrokerContext,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        listener: ListenerRuntime | None,
        request_bytes: RequestBytes,
    ) -> None:
        self.ctx = ctx
        self.reader = reader
        self.writer = writer
        self.peer = writer.get_extra_info("peername")
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue(maxsize=ctx.config.queued_max_requests)
        self._tls = writer.get_extra_info("sslcontext") is not None
        self._sendfile_ok = not self._tls
        self.session = listener.session(writer) if listener is not None else sessions.LOCAL
        self._auth = listener.authenticator(self.session) if listener is not None else None
        self._context = contextvars.copy_context()
        self._context.run(sessions.bind, self.session)
        self._request_bytes = request_bytes
        self._held = 0  # bytes of this connection's unanswered requests
        self._last_active = time.monotonic()

    def idle_for(self, now: float) -> float:
        """Seconds since a byte moved, 0 while a request waits for its answer."""
        return 0.0 if self._held else now - self._last_active

    def _hold(self, size: int) -> None:
        self._held += size
        self._request_bytes.take(size)

    def _answered(self, size: int) -> None:
        self._held -= size
        self._request_bytes.give(size)
        self._last_active = time.monotonic()

    @property
    def queued(self) -> int:
        """Requests read and waiting behind the one being answered (the metrics' request queue
        size; as Kafka's, a request whose answer is being worked on is not in the queue)."""
        return self._queue.qsize()

    async def run(self) -> None:
        reading = asyncio.create_task(self._read_loop())
        writing = asyncio.create_task(self._write_loop())
        try:
            # A reader that ends cleanly (EOF, or a refusal queued) leaves the writer to answer
            # what came before; either loop failing ends both.
            await asyncio.wait([reading, writing], return_when=asyncio.FIRST_EXCEPTION)
            for task in (reading, writing):
                if task.done() and not task.cancelled() and (exc := task.exception()) is not None:
                    self._log_close(exc)
                    break
        except asyncio.CancelledError:
            pass
        finally:
            for task in (reading, writing):
                task.cancel()
            await asyncio.gather(reading, writing, return_exceptions=True)
            self._cancel_pending()
            self._request_bytes.give(self._held)
            self._held = 0
            self.writer.transport.abort()

    def _log_close(self, exc: BaseException) -> None:
        if isinstance(exc, (FrameError, ConnectionError)):
            log.info("closing connection from %s: %s", self.peer, exc)
        else:
            log.error("closing connection from %s after an unexpected error", self.peer, exc_info=exc)

    async def _read_loop(self) -> None:
        decoder = FrameDecoder(self.ctx.config.socket_request_max_bytes)
        loop = asyncio.get_running_loop()
        first = True
        while True:
            await self._request_bytes.room()
            data = await self.reader.read(READ_CHUNK)
            self._last_active = time.monotonic()
            if first and data[:2] == TLS_RECORD_START and not self._tls:
                raise FrameError(
                    f"a TLS handshake on listener {self.session.listener} ({self.session.protocol}): "
                    "the client is configured for SSL but connected to a port without TLS"
                )
            first = False
            if not data:
                if decoder.buffered:
                    raise FrameError(f"connection closed inside a frame ({decoder.buffered} bytes buffered)")
                await self._queue.put(None)
                return
            decoder.feed(data)
            unauthenticated = self._auth is not None and not self._auth.complete
            decoder.max_frame_bytes = (
                SASL_MAX_RECEIVE_BYTES if unauthenticated else self.ctx.config.socket_request_max_bytes
            )
            while (frame := decoder.next_frame()) is not None:
                size = len(frame) + 4
                self._hold(size)
                if self._auth is not None and self._auth.raw_tokens:  # after SaslHandshake v0
                    token, failed = await self._auth.raw_token(frame)
                    if failed:
                        await self._close_after_answers(None, failed)
                        return
                    await self._queue.put((RAW_SASL, _done(Reply(token)), None, size))
                    continue
                try:
                    header, body = decode_request(frame)
                except UnsupportedRequestError as exc:
                    if exc.header.api_key != ApiKey.API_VERSIONS:
                        await self._close_after_answers(exc.header, str(exc))
                        return
                    await self._queue.put((exc.header, _done(Reply(api_versions.refusal())), 0, size))
                    continue
                except FrameError as exc:
                    await self._close_after_answers(getattr(exc, "header", None), str(exc))
                    return
                now = time.monotonic()
                if self._auth is not None and self._auth.takes(header.api_key, now):
                    if header.api_key not in SASL_APIS:
                        await self._close_after_answers(
                            header,
                            f"{ApiKey(header.api_key).name} before SASL "
                            f"authentication on listener {self.session.listener}",
                        )
                        return
                    reply, failed = await self._auth.handle(header, body)
                    await self._queue.put((header, _done(reply), None, size))
                    if failed:
                        await self._close_after_answers(header, failed)
                        return
                    continue
                if self._auth is not None and self._auth.expired(now):
                    await self._close_after_answers(
                        header,
                        f"the SASL session of {self.session.principal} expired "
                        "(connections.max.reauth.ms) without re-authentication",
                    )
                    return
                task = loop.create_task(dispatch(self.ctx, header, body), context=self._context)
                if self.ctx.metrics is not None:
                    self.ctx.metrics.time_request(header, body, task)
                await self._queue.put((header, task, None, size))

    async def _close_after_answers(self, header: RequestHeader | None, reason: str) -> None:
        """Answer every request before this one, then close (no response can carry `reason`)."""
        header = header or RequestHeader(-1, -1, -1, None)
        await self._queue.put((header, _done(Reply(None, close_connection=True, close_reason=reason)), None, 0))

    async def _write_loop(self) -> None:
        while (item := await self._queue.get()) is not None:
            header, task, version, size = item
            reply = await task
            if reply is not None and reply.close_connection:
                raise ConnectionAbortedError(reply.close_reason)
            if reply is not None and header is RAW_SASL:
                self.writer.write(reply.body.frame())
            elif reply is not None:
                await self._send(header, reply.body, version)
                # Every time, not only when idle: a client that does not read must stop us,
                # or its answers pile up in this process.
                await self.writer.drain()
            self._answered(size)
        await self.writer.drain()

    async def _send(self, header: RequestHeader, body: Any, version: int | None) -> None:
        slices: list[Any] = []
        try:
            parts = response_parts(header, body, version)
            slices = [p for p in parts if not isinstance(p, (bytes, bytearray))]
            for part in parts:
                if isinstance(part, (bytes, bytearray)):
                    self.writer.write(part)
                else:
                    await self._send_slice(part)
        finally:
            for piece in slices or slices_of(body):
                piece.close()

    async def _send_slice(self, piece: Slice) -> None:
        """Segment bytes to the socket with sendfile; read and write them if it can't."""
        if piece.length == 0:
            return
        if self._sendfile_ok:
            loop = asyncio.get_running_loop()
            try:
                await loop.sendfile(self.writer.transport, piece.file, piece.position, piece.length)
                return
            except _SENDFILE_UNSUPPORTED:
                self._sendfile_ok = False
                log.info("this event loop cannot sendfile; sending fetch data by reading it")
        fd, position, end = piece.file.fileno(), piece.position, piece.position + piece.length
        while position < end:
            chunk = os.pread(fd, min(end - position, READ_CHUNK), position)
            if not chunk:
                raise ConnectionAbortedError("segment file ended before the fetch slice did")
            self.writer.write(chunk)
            position += len(chunk)
            await self.writer.drain()

    def _cancel_pending(self) -> None:
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is None:
                continue
            task = item[1]
            if not task.done():
                task.cancel()
            elif not task.cancelled() and task.exception() is None and (reply := task.result()) is not None:
                for piece in slices_of(reply.body):
                    piece.close()
