"""A TLS listener's acceptor: the handshake first, then the port's own protocol.

asyncio's own `create_server(ssl=...)` drops a failed handshake without a word (a
plaintext client on the TLS port, a certificate from an unknown CA, a handshake that
never finishes). An operator needs to see those, so this acceptor takes the plain TCP
connection, runs the handshake itself (`loop.start_tls`), logs why it failed, and only
hands a finished TLS transport to the port's protocol (a client `Connection` on the
secure client port, a stream protocol on the quorum port).

This module must never pass a connection on before its handshake succeeded, nor keep
one open after a failed handshake.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

log = logging.getLogger("coord.security.tls")


class TlsAcceptor:
    """Protocol factory for the secure listener; `close()` abandons pending handshakes."""

    def __init__(
        self, context: ssl.SSLContext, timeout: float, make_connection: Callable[[], asyncio.BaseProtocol], where: str
    ) -> None:
        self.where = where  # for the log: "the secure client port", "the quorum port"
        self.context = context
        self.timeout = timeout
        self.make_connection = make_connection
        self.pending: set[asyncio.Task[None]] = set()

    def __call__(self) -> asyncio.Protocol:
        return _Handshake(self)

    def close(self) -> None:
        for task in list(self.pending):
            task.cancel()


class _Handshake(asyncio.Protocol):
    def __init__(self, acceptor: TlsAcceptor) -> None:
        self.acceptor = acceptor

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # start_tls takes the transport over (and pauses its reading) on the task's
        # first step, which runs before any read the loop may already have queued.
        task = asyncio.ensure_future(self._upgrade(transport))  # type: ignore[arg-type]  # a stream server's transport is a Transport
        self.acceptor.pending.add(task)
        task.add_done_callback(self.acceptor.pending.discard)

    async def _upgrade(self, transport: asyncio.Transport) -> None:
        peer = transport.get_extra_info("peername") or ("?", 0)
        conn = self.acceptor.make_connection()
        try:
            tls = await asyncio.get_running_loop().start_tls(
                transport, conn, self.acceptor.context, server_side=True, ssl_handshake_timeout=self.acceptor.timeout
            )
        except OSError as e:  # SSLError, a reset, the handshake deadline
            log.info("closing %s:%s: TLS handshake failed on %s: %s", peer[0], peer[1], self.acceptor.where, _reason(e))
            transport.abort()
            return
        except asyncio.CancelledError:
            transport.abort()
            raise
        if tls is None:  # the client went away during the handshake
            transport.abort()
            return
        conn.connection_made(tls)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionAbortedError):  # asyncio's handshake deadline
        return "no TLS handshake within ssl.handshakeDetectionTimeoutMillis"
    if isinstance(exc, ConnectionResetError):
        return "the client closed the connection during the handshake"
    if isinstance(exc, ssl.SSLError) and exc.reason in ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNEXPECTED_MESSAGE"):
        return f"{exc.reason}: not TLS (a plaintext client on the TLS port?)"
    return str(exc) or type(exc).__name__
