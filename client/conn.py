"""One TCP connection to one broker: pipelined requests, responses matched in order.

The broker answers requests in the order they arrived, so the connection keeps a FIFO of
waiting futures and checks each response's correlation id against the head; acks=0
Produce requests expect no answer and never enter the FIFO. Writes go straight to the
transport (no task per request); `drain()` waits while the kernel buffer is full.
This module must never retry, refresh metadata or interpret a response body: it moves
frames and fails every waiting future with BrokerConnectionError when the socket dies.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from typing import Any

from client.errors import BrokerConnectionError, ClientTimeoutError
from client.protocol.frames import (DEFAULT_MAX_RESPONSE_BYTES, FrameDecoder, FrameError, Response,
                                    decode_response, encode_request)


class BrokerConnection(asyncio.Protocol):
    """A connected socket to `host:port`; create with `await BrokerConnection.open(...)`."""

    def __init__(self, host: str, port: int, client_id: str, request_timeout_ms: int) -> None:
        self.host, self.port = host, port
        self.client_id = client_id
        self.request_timeout = request_timeout_ms / 1000
        self._decoder = FrameDecoder(DEFAULT_MAX_RESPONSE_BYTES)
        self._waiting: collections.deque[tuple[int, asyncio.Future, asyncio.TimerHandle]] = collections.deque()
        self._ids = itertools.count()
        self._transport: asyncio.Transport | None = None
        self._closed_exc: Exception | None = None
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._loop = asyncio.get_running_loop()

    @classmethod
    async def open(cls, host: str, port: int, *, client_id: str = "pybroker-client",
                   request_timeout_ms: int = 30000, connect_timeout_ms: int = 10000) -> "BrokerConnection":
        loop = asyncio.get_running_loop()
        conn = cls(host, port, client_id, request_timeout_ms)
        try:
            await asyncio.wait_for(loop.create_connection(lambda: conn, host, port), connect_timeout_ms / 1000)
        except (OSError, asyncio.TimeoutError) as exc:
            raise BrokerConnectionError(f"cannot connect to broker {host}:{port}: {exc or 'timed out'}") from None
        return conn

    @property
    def connected(self) -> bool:
        return self._transport is not None and self._closed_exc is None

    @property
    def in_flight(self) -> int:
        return len(self._waiting)

    def send(self, api_key: int, body: Any, *, api_version: int = 0, expect_response: bool = True,
             timeout_ms: int | None = None) -> asyncio.Future | None:
        """Write one request now; the future resolves to the Response (None if no answer expected).
        `timeout_ms` overrides the connection's request timeout for a request the broker may
        rightly hold longer (JoinGroup waits for the whole group)."""
        if not self.connected:
            raise BrokerConnectionError(f"connection to {self.host}:{self.port} is closed: {self._closed_exc}")
        correlation_id = next(self._ids) & 0x7FFFFFFF
        self._transport.write(encode_request(api_key, api_version, correlation_id, self.client_id, body))
        if not expect_response:
            return None
        fut = self._loop.create_future()
        timeout = self.request_timeout if timeout_ms is None else timeout_ms / 1000
        timer = self._loop.call_later(timeout, self._timed_out, correlation_id, timeout)
        self._waiting.append((correlation_id, fut, timer))
        return fut

    async def request(self, api_key: int, body: Any, *, api_version: int = 0,
                      timeout_ms: int | None = None) -> Response:
        """Send and wait for the answer (raises BrokerConnectionError / ClientTimeoutError)."""
        return await self.send(api_key, body, api_version=api_version, timeout_ms=timeout_ms)

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark."""
        await self._can_write.wait()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._fail_all(BrokerConnectionError(f"connection to {self.host}:{self.port} closed by the client"))

    # asyncio.Protocol callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._decoder.feed(data)
        try:
            while (frame := self._decoder.next_frame()) is not None:
                self._deliver(decode_response(frame))
        except (FrameError, BrokerConnectionError) as exc:
            self._transport.close()
            self._fail_all(BrokerConnectionError(f"bad response from {self.host}:{self.port}: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_all(BrokerConnectionError(
            f"connection to broker {self.host}:{self.port} lost" + (f": {exc}" if exc else "")))

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    def _deliver(self, response: Response) -> None:
        if not self._waiting:
            raise BrokerConnectionError(f"unexpected response with correlation id {response.correlation_id}")
        correlation_id, fut, timer = self._waiting[0]
        if correlation_id != response.correlation_id:
            raise BrokerConnectionError(
                f"response correlation id {response.correlation_id} does not match request {correlation_id}")
        self._waiting.popleft()
        timer.cancel()
        if not fut.done():
            fut.set_result(response)

    def _timed_out(self, correlation_id: int, timeout: float) -> None:
        # The broker answers in order, so one late answer stalls the whole pipeline: the
        # only safe move is to drop the connection and let callers retry elsewhere.
        # A request queued behind an earlier one that may rightly take longer (JoinGroup)
        # gets its time again once that one is answered; the earlier one's own timer
        # guards against a hung broker meanwhile.
        if not any(waiting[0] == correlation_id for waiting in self._waiting):
            return   # answered (or failed) already: a re-armed timer nobody cancelled
        if self._waiting[0][0] != correlation_id:
            self._loop.call_later(timeout, self._timed_out, correlation_id, timeout)
            return
        exc = ClientTimeoutError(f"no answer from broker {self.host}:{self.port} within "
                                 f"{timeout:.1f}s (request {correlation_id})")
        if self._transport is not None:
            self._transport.close()
        self._fail_all(exc)

    def _fail_all(self, exc: Exception) -> None:
        if self._closed_exc is None:
            self._closed_exc = exc
        self._can_write.set()
        while self._waiting:
            _, fut, timer = self._waiting.popleft()
            timer.cancel()
            if not fut.done():
                fut.set_exception(exc)
