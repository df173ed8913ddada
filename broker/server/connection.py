"""One client connection: read frames, run requests concurrently, answer in order.

Reading and writing are two loops joined by a bounded queue of (request, task) in arrival
order. The reader decodes frames and starts each request's handler at once, so a slow
Fetch long poll does not stop later Produce requests from being appended; the writer
awaits the tasks strictly in order and writes each reply, sending a Fetch reply's record
bytes with sendfile straight from the segment file after its header. A full queue stops
the reader (back-pressure). Bad framing closes this connection only. This module must
never interpret request bodies.
"""

from __future__ import annotations

import asyncio
import logging
import os

from client.protocol.frames import FrameDecoder, FrameError, Request, decode_request, response_head

from broker.server.handlers import dispatch
from broker.server.handlers.common import BrokerContext, Reply, Slice

log = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
_SENDFILE_UNSUPPORTED = (NotImplementedError, AttributeError)


class Connection:
    def __init__(self, ctx: BrokerContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.ctx = ctx
        self.reader = reader
        self.writer = writer
        self.peer = writer.get_extra_info("peername")
        self._queue: asyncio.Queue[tuple[Request, asyncio.Task] | None] = asyncio.Queue(
            maxsize=ctx.config.max_in_flight_requests_per_connection)
        self._sendfile_ok = True

    async def run(self) -> None:
        writer_task = asyncio.create_task(self._write_loop())
        reader_task = asyncio.current_task()
        assert reader_task is not None

        def _writer_done(task: asyncio.Task) -> None:
            if not task.cancelled() and task.exception() is not None:
                log.info("closing connection from %s: %s", self.peer, task.exception())
                reader_task.cancel()

        writer_task.add_done_callback(_writer_done)
        try:
            await self._read_loop()
            await self._queue.put(None)  # peer finished sending: answer what it asked, then close
            await writer_task
        except (FrameError, ConnectionError) as exc:
            log.info("closing connection from %s: %s", self.peer, exc)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("closing connection from %s after an unexpected error", self.peer)
        finally:
            writer_task.cancel()
            await asyncio.gather(writer_task, return_exceptions=True)
            self._cancel_pending()
            self.writer.transport.abort()

    async def _read_loop(self) -> None:
        decoder = FrameDecoder(self.ctx.config.socket_request_max_bytes)
        loop = asyncio.get_running_loop()
        while True:
            data = await self.reader.read(READ_CHUNK)
            if not data:
                if decoder.buffered:
                    raise FrameError(f"connection closed inside a frame ({decoder.buffered} bytes buffered)")
                return
            decoder.feed(data)
            while (frame := decoder.next_frame()) is not None:
                request = decode_request(frame)
                task = loop.create_task(dispatch(self.ctx, request))
                await self._queue.put((request, task))

    async def _write_loop(self) -> None:
        while (item := await self._queue.get()) is not None:
            request, task = item
            reply = await task
            if reply is None:
                continue
            if reply.close_connection:
                raise ConnectionAbortedError(reply.close_reason)
            await self._send(request.correlation_id, reply)
            if self._queue.empty():
                await self.writer.drain()
        await self.writer.drain()

    async def _send(self, correlation_id: int, reply: Reply) -> None:
        tail = reply.tail
        try:
            self.writer.write(response_head(correlation_id, reply.body, sum(s.length for s in tail)))
            for piece in tail:
                await self._send_slice(piece)
        finally:
            for piece in tail:
                piece.close()

    async def _send_slice(self, piece: Slice) -> None:
        """Segment bytes to the socket with sendfile; read and write them if it can't."""
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
            if item is not None:
                item[1].cancel()
