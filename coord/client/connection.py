"""One TCP connection of a CoordClient: handshake, read loop, pings, read timeout.

It moves bytes only: frames out of the core go to the socket, frames in go back to the
core, and it reports the end of the connection once (`on_lost`). Timing follows the Java
client: ping after 1/3 of the negotiated session timeout without sending, give up on the
server after 2/3 of it without receiving anything.
It must never interpret replies itself (the core does) nor outlive its client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from coord.client.core import ClientCore
from coord.protocol import records as R
from coord.protocol.framing import DEFAULT_MAX_BUFFER, FrameReader


async def close_quietly(writer: asyncio.StreamWriter) -> None:
    """Close a stream and wait for it, swallowing the error that ended it. A reset
    connection stores its ConnectionResetError in the stream's closed-future too; if
    nothing awaits `wait_closed()`, asyncio may log "Future exception was never
    retrieved" when that future is collected (the reset is already handled)."""
    writer.close()
    try:
        await writer.wait_closed()
    except Exception:  # noqa: BLE001 - how the stream ended was handled by its reader
        pass


class HandshakeRefusedError(Exception):
    """The server closed the connection instead of answering the ConnectRequest."""


class Connection:
    def __init__(
        self,
        core: ClientCore,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_frame: Callable[[bytes], None],
        on_lost: Callable[[Connection, BaseException | None], None],
    ) -> None:
        self.core = core
        self.reader, self.writer = reader, writer
        self.frames = FrameReader(DEFAULT_MAX_BUFFER + 1024)
        self.on_frame, self.on_lost = on_frame, on_lost
        self.timeout = 0.0
        self.last_sent = self.last_received = time.monotonic()
        self.tasks: list[asyncio.Task] = []
        self.closing: asyncio.Task | None = None
        self.closed = False

    async def handshake(self, timeout_ms: int, read_only: bool, deadline: float) -> R.ConnectResponse:
        self.writer.write(self.core.connect_frame(timeout_ms, read_only))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError()
            data = await asyncio.wait_for(self.reader.read(65536), left)
            if not data:
                raise HandshakeRefusedError("server closed the connection during the handshake")
            frames = self.frames.feed(data)
            if frames:
                resp = self.core.connected(frames[0])
                self.timeout = resp.timeOut / 1000.0
                self._pending_frames = frames[1:]
                return resp

    def run(self) -> None:
        """Start the read and ping loops (after a successful handshake)."""
        self.last_received = time.monotonic()
        for frame in self._pending_frames:
            self.on_frame(frame)
        self.tasks = [asyncio.ensure_future(self._read_loop()), asyncio.ensure_future(self._ping_loop())]

    def send(self, data: bytes) -> None:
        self.writer.write(data)
        self.last_sent = time.monotonic()

    async def _read_loop(self) -> None:
        error: BaseException | None = None
        try:
            while not self.closed:
                data = await self.reader.read(262144)
                if not data:
                    error = ConnectionResetError("server closed the connection")
                    break
                self.last_received = time.monotonic()
                for frame in self.frames.feed(data):
                    self.on_frame(frame)
        except asyncio.CancelledError:
            return
        except Exception as e:  # noqa: BLE001 - any failure ends this connection only
            error = e
        self.close(error)

    async def _ping_loop(self) -> None:
        """Ping when idle; declare the server dead after the read timeout of silence
        (checked here rather than with a timeout per read, which costs a task each)."""
        interval, read_timeout = self.timeout / 3, self.timeout * 2 / 3
        step = min(interval, read_timeout) / 4
        try:
            while not self.closed:
                now = time.monotonic()
                if now - self.last_received > read_timeout:
                    self.close(TimeoutError(f"nothing from the server for {read_timeout:.1f}s"))
                    return
                if now - self.last_sent >= interval:
                    self.send(self.core.ping_frame())
                await asyncio.sleep(step)
        except asyncio.CancelledError:
            return
        except Exception as e:  # noqa: BLE001
            self.close(e)

    def close(self, error: BaseException | None = None) -> None:
        if self.closed:
            return
        self.closed = True
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        self.closing = asyncio.ensure_future(close_quietly(self.writer))
        self.on_lost(self, error)
