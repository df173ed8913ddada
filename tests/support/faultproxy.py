"""A fault-injecting TCP proxy for tests: cut, black-hole and slow down real links.

Tests put one between a client and a server (or between two servers) and then break the
link the way networks break: `cut()` resets every connection and refuses new ones (a
crashed peer or a firewall REJECT), `blackhole()` keeps connections open but silently
drops every byte in both directions (a partition, a firewall DROP), `delay(s)` holds each
chunk for `s` seconds, `drop_replies(n)` lets requests through but swallows the next `n`
answers from the server, resetting the connection at each (the server did the work, the
client never hears of it; with `then_cut` the proxy also refuses connections from then
on), `isolate(marker)` resets and refuses only the connections whose first request
carries `marker` (e.g. a Kafka client id such as b"replica-fetcher-3": one peer's link
through a proxy that other clients share), `reset_on(marker)` forwards the next request
carrying `marker` and then resets its connection before any answer (a link lost while one
exact request is in flight), and `heal()` restores normal forwarding. The proxy runs its own
event loop in a thread so that both synchronous and asyncio tests can use it.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future


class FaultProxy:
    """Forward 127.0.0.1:`listen_port` to `target_host`:`target_port`, with faults on demand."""

    def __init__(self, target_port: int, *, listen_port: int = 0, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listen_port = listen_port
        self._mode = "forward"  # forward | cut | blackhole
        self._delay = 0.0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="faultproxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections_accepted = 0
        self.replies_to_drop = 0
        self._cut_after_drop = False
        self.replies_dropped = 0
        self._isolated: set[bytes] = set()
        self._first_chunk: dict[asyncio.StreamWriter, bytes] = {}  # client writer -> its first bytes
        self._reset_marker: bytes | None = None
        self.resets_on_marker = 0

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- faults -----------------------------------------------------------------------

    def cut(self) -> None:
        """Reset every open connection and refuse new ones until `heal()`."""
        self._call(self._set_mode("cut"))

    def blackhole(self) -> None:
        """Keep connections open but drop every byte, both ways, until `heal()`."""
        self._call(self._set_mode("blackhole"))

    def delay(self, seconds: float) -> None:
        """Hold every chunk for `seconds` before forwarding it (0 to stop delaying)."""
        self._delay = seconds

    def drop_replies(self, count: int = 1, *, then_cut: bool = False) -> None:
        """Swallow the next `count` chunks the server sends, aborting the connection at each;
        `then_cut`: after the last one, behave as `cut()` until `heal()`."""
        self._cut_after_drop = then_cut
        self.replies_to_drop = count

    def isolate(self, marker: bytes) -> None:
        """Reset the connections whose first request contains `marker`, and every such
        connection from now on, until `heal()`; other connections are untouched."""
        self._call(self._isolate(marker))

    def reset_on(self, marker: bytes) -> None:
        """Once: forward the next client chunk containing `marker` to the server, then
        reset that connection, so the server may do the work but the client never hears."""
        self._reset_marker = marker

    def heal(self) -> None:
        self._call(self._set_mode("forward"))

    # -- internals --------------------------------------------------------------------

    def _call(self, coro) -> object:
        fut: Future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout=10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.listen_port)
        self.listen_port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        self._reset_all()
        # Let every connection task see its aborted transports and finish, so that the
        # loop stops with nothing pending.
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _set_mode(self, mode: str) -> None:
        self._mode = mode
        if mode == "forward":
            self._isolated.clear()
        if mode == "cut":
            self._reset_all()

    async def _isolate(self, marker: bytes) -> None:
        self._isolated.add(marker)
        for writer, first in list(self._first_chunk.items()):
            if marker in first:
                writer.transport.abort()

    def _is_isolated(self, first: bytes) -> bool:
        return any(marker in first for marker in self._isolated)

    def _reset_all(self) -> None:
        for writer in list(self._writers):
            transport = writer.transport
            if not transport.is_closing():
                transport.abort()
        self._writers.clear()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self._mode == "cut":
            client_w.transport.abort()
            return
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.transport.abort()
            return
        self.connections_accepted += 1
        self._writers.update((client_w, server_w))
        await asyncio.gather(
            self._pipe(client_r, server_w, client_w=client_w),
            self._pipe(server_r, client_w, replies=True),
            return_exceptions=True,
        )
        self._first_chunk.pop(client_w, None)
        for w in (client_w, server_w):
            self._writers.discard(w)
            w.transport.abort()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        replies: bool = False,
        client_w: asyncio.StreamWriter | None = None,
    ) -> None:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                writer.transport.abort()
                return
            if client_w is not None:
                first = self._first_chunk.setdefault(client_w, chunk)
                if self._is_isolated(first):
                    client_w.transport.abort()
                    writer.transport.abort()
                    return
                if self._reset_marker is not None and self._reset_marker in chunk:
                    self._reset_marker = None
                    self.resets_on_marker += 1
                    client_w.transport.abort()  # the client sees the reset before any answer
                    writer.write(chunk)  # into the kernel now; the server still reads it
                    writer.transport.abort()
                    return
            if replies and self.replies_to_drop > 0:
                self.replies_to_drop -= 1
                self.replies_dropped += 1
                writer.transport.abort()  # the client sees its connection reset, no answer
                if self._cut_after_drop and self.replies_to_drop == 0:
                    await self._set_mode("cut")
                return
            if self._delay:
                await asyncio.sleep(self._delay)
            if self._mode == "forward":
                writer.write(chunk)
                await writer.drain()
