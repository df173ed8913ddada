"""One TCP connection to one broker in Kafka's protocol: pipelined requests, answers in order.

Opening a connection first asks the broker which versions of each API it serves (ApiVersions
v3; a broker that does not know v3 answers UNSUPPORTED_VERSION with its table in the v0 layout,
and we ask again at the highest version that table allows); every later request goes out at the
highest version both sides speak (`version_for`), unless the caller names one. The broker answers
requests in the order they arrived, so the connection keeps a FIFO of waiting requests and checks
each answer's correlation id against the head before decoding it with the head's header; acks=0
Produce requests expect no answer and never enter the FIFO. Writes go straight to the transport
(no task per request); `drain()` waits while the kernel buffer is full. With a `ClientSecurity`
the socket is wrapped in TLS before the first byte, and SASL (SaslHandshake v1, then
SaslAuthenticate rounds, KIP-152) runs after ApiVersions and before `open` returns.
This module must never retry, refresh metadata or interpret a response's fields beyond the
handshake: it moves typed messages and fails every waiting future with BrokerConnectionError
when the socket dies or an answer does not parse.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import ssl
from typing import Any

from client.errors import (
    AuthenticationError,
    BrokerConnectionError,
    ClientTimeoutError,
    ErrorCode,
    UnsupportedVersionError,
)
from client.protocol import messages as m
from client.protocol.api import MIN_PRODUCE_RECORD_VERSION, SUPPORTED_VERSIONS, ApiKey
from client.protocol.frames import DEFAULT_MAX_RESPONSE_BYTES, FrameDecoder, FrameError
from client.protocol.kafka_frames import RequestHeader, decode_response, encode_request, response_correlation_id
from client.sasl import authenticate
from client.security import PLAINTEXT, ClientSecurity

# The ApiVersions version we try first, and the software name and version it announces
# (Kafka requires both to match [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?).
HANDSHAKE_VERSION = 3
SOFTWARE_NAME = "pybroker-client"
SOFTWARE_VERSION = "0.1.0"


def client_versions(api_key: int) -> tuple[int, int]:
    """The versions of `api_key` this client can speak: our table, within what the codec
    knows; Produce from v3 (older versions carry message formats we never write)."""
    low, high = SUPPORTED_VERSIONS[api_key]  # KeyError: an API this client does not know
    high = min(high, m.API_BY_KEY[api_key].max_version)
    if api_key == ApiKey.PRODUCE:
        low = max(low, MIN_PRODUCE_RECORD_VERSION)
    return low, high


class BrokerConnection(asyncio.Protocol):
    """A connected socket to `host:port`; create with `await BrokerConnection.open(...)`."""

    def __init__(self, host: str, port: int, client_id: str, request_timeout_ms: int) -> None:
        self.host, self.port = host, port
        self.client_id = client_id
        self.request_timeout = request_timeout_ms / 1000
        self.broker_versions: dict[int, tuple[int, int]] = {}  # the broker's ApiVersions table
        self._decoder = FrameDecoder(DEFAULT_MAX_RESPONSE_BYTES)
        self._waiting: collections.deque[tuple[RequestHeader, asyncio.Future, asyncio.TimerHandle]] = (
            collections.deque()
        )
        self._ids = itertools.count()
        self._transport: asyncio.Transport | None = None
        self._closed_exc: Exception | None = None
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._loop = asyncio.get_running_loop()

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        client_id: str = "pybroker-client",
        request_timeout_ms: int = 30000,
        connect_timeout_ms: int = 10000,
        security: ClientSecurity | None = None,
    ) -> BrokerConnection:
        """Connect (with TLS and SASL as `security` says), learn the broker's API versions;
        raises BrokerConnectionError (AuthenticationError when SASL or TLS refuses us, or
        UnsupportedVersionError if the broker speaks no ApiVersions version we know)."""
        loop = asyncio.get_running_loop()
        security = security or PLAINTEXT
        conn = cls(host, port, client_id, request_timeout_ms)
        tls = {"ssl": security.ssl_context, "server_hostname": host} if security.tls else {}
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: conn, host, port, **tls),  # type: ignore[call-overload]  # ssl/server_hostname or nothing
                connect_timeout_ms / 1000,
            )
        except ssl.SSLError as exc:
            raise AuthenticationError(f"TLS handshake with broker {host}:{port} failed: {exc}") from None
        except (TimeoutError, OSError) as exc:
            raise BrokerConnectionError(f"cannot connect to broker {host}:{port}: {str(exc) or 'timed out'}") from None
        try:
            await conn._handshake()
            if security.sasl:
                await authenticate(conn, security)
        except BaseException:
            conn.close()
            raise
        return conn

    async def _handshake(self) -> None:
        version = HANDSHAKE_VERSION
        request = m.ApiVersionsRequest(client_software_name=SOFTWARE_NAME, client_software_version=SOFTWARE_VERSION)
        answer = await self.request(ApiKey.API_VERSIONS, request, api_version=version)
        if answer.error_code == ErrorCode.UNSUPPORTED_VERSION:
            table = {a.api_key: (a.min_version, a.max_version) for a in answer.api_keys}
            low, high = table.get(ApiKey.API_VERSIONS, (0, -1))
            version = min(high, HANDSHAKE_VERSION)
            if version < low:
                raise UnsupportedVersionError(
                    f"broker {self.host}:{self.port} serves ApiVersions {low}-{high} "
                    f"only; this client speaks 0-{HANDSHAKE_VERSION}"
                )
            answer = await self.request(ApiKey.API_VERSIONS, request, api_version=version)
        if answer.error_code:
            raise BrokerConnectionError(
                f"broker {self.host}:{self.port} refused ApiVersions v{version}: {ErrorCode(answer.error_code).name}"
            )
        self.broker_versions = {a.api_key: (a.min_version, a.max_version) for a in answer.api_keys}

    def version_for(self, api_key: int) -> int:
        """The highest version of `api_key` both sides speak. Raises KeyError for an API this
        client does not know, UnsupportedVersionError when the broker serves none of ours."""
        low, high = client_versions(api_key)
        theirs = self.broker_versions.get(api_key)
        if theirs is None or max(low, theirs[0]) > min(high, theirs[1]):
            offered = "nothing" if theirs is None else f"versions {theirs[0]}-{theirs[1]}"
            raise UnsupportedVersionError(
                f"broker {self.host}:{self.port} serves {offered} of "
                f"{m.API_BY_KEY[api_key].name}; this client speaks {low}-{high}"
            )
        return min(high, theirs[1])

    @property
    def connected(self) -> bool:
        return self._transport is not None and self._closed_exc is None

    @property
    def in_flight(self) -> int:
        return len(self._waiting)

    def send(
        self,
        api_key: int,
        body: Any,
        *,
        api_version: int | None = None,
        expect_response: bool = True,
        timeout_ms: int | None = None,
    ) -> asyncio.Future | None:
        """Write one request now, at `api_version` (default: `version_for(api_key)`); the future
        resolves to the typed response (None if no answer is expected). `timeout_ms` overrides
        the connection's request timeout for a request the broker may rightly hold longer
        (JoinGroup waits for the whole group)."""
        if not self.connected:
            raise BrokerConnectionError(f"connection to {self.host}:{self.port} is closed: {self._closed_exc}")
        version = self.version_for(api_key) if api_version is None else api_version
        header = RequestHeader(int(api_key), version, next(self._ids) & 0x7FFFFFFF, self.client_id)
        assert self._transport is not None  # connected
        self._transport.write(encode_request(header, body))
        if not expect_response:
            return None
        fut = self._loop.create_future()
        timeout = self.request_timeout if timeout_ms is None else timeout_ms / 1000
        timer = self._loop.call_later(timeout, self._timed_out, header.correlation_id, timeout)
        self._waiting.append((header, fut, timer))
        return fut

    async def request(
        self, api_key: int, body: Any, *, api_version: int | None = None, timeout_ms: int | None = None
    ) -> Any:
        """Send and wait for the typed answer (raises BrokerConnectionError / ClientTimeoutError)."""
        answer = self.send(api_key, body, api_version=api_version, timeout_ms=timeout_ms)
        assert answer is not None  # expect_response: a future
        return await answer

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark."""
        await self._can_write.wait()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._fail_all(BrokerConnectionError(f"connection to {self.host}:{self.port} closed by the client"))

    # asyncio.Protocol callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # a stream connection's transport is a Transport

    def data_received(self, data: bytes) -> None:
        self._decoder.feed(data)
        try:
            while (frame := self._decoder.next_frame()) is not None:
                self._deliver(frame)
        except (FrameError, m.DecodeError, BrokerConnectionError) as exc:
            if self._transport is not None:
                self._transport.close()
            self._fail_all(BrokerConnectionError(f"bad response from {self.host}:{self.port}: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_all(
            BrokerConnectionError(f"connection to broker {self.host}:{self.port} lost" + (f": {exc}" if exc else ""))
        )

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    def _deliver(self, frame: bytes) -> None:
        correlation_id = response_correlation_id(frame)
        if not self._waiting:
            raise BrokerConnectionError(f"unexpected response with correlation id {correlation_id}")
        header, fut, timer = self._waiting[0]
        if correlation_id != header.correlation_id:
            raise BrokerConnectionError(
                f"response correlation id {correlation_id} does not match request {header.correlation_id}"
            )
        body = decode_response(frame, header)  # a DecodeError drops the connection
        self._waiting.popleft()
        timer.cancel()
        if not fut.done():
            fut.set_result(body)

    def _timed_out(self, correlation_id: int, timeout: float) -> None:
        # The broker answers in order, so one late answer stalls the whole pipeline: the
        # only safe move is to drop the connection and let callers retry elsewhere.
        # A request queued behind an earlier one that may rightly take longer (JoinGroup)
        # gets its time again once that one is answered; the earlier one's own timer
        # guards against a hung broker meanwhile.
        if not any(waiting[0].correlation_id == correlation_id for waiting in self._waiting):
            return  # answered (or failed) already: a re-armed timer nobody cancelled
        if self._waiting[0][0].correlation_id != correlation_id:
            self._loop.call_later(timeout, self._timed_out, correlation_id, timeout)
            return
        exc = ClientTimeoutError(
            f"no answer from broker {self.host}:{self.port} within {timeout:.1f}s (request {correlation_id})"
        )
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
