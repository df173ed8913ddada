"""SaslHandshake and SaslAuthenticate where no exchange is expected: on a listener without SASL,
or on an authenticated connection that may not re-authenticate now (within a second of its last
re-authentication, or after a v0 exchange). Everywhere else the connection's authenticator
answers them (`broker.security.sasl_server`). This module must never authenticate anyone.
"""

from __future__ import annotations

from broker.security import session
from broker.server.handlers.common import BrokerContext, Reply
from client.protocol import messages as m
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader


def _why() -> str:
    caller = session.current()
    if caller.protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        return (
            "this connection has authenticated already and may not re-authenticate now "
            "(at most once a second, and not after SaslHandshake v0)"
        )
    return f"listener {caller.listener} ({caller.protocol}) does not use SASL"


async def handshake(ctx: BrokerContext, header: RequestHeader, body: m.SaslHandshakeRequest) -> Reply:
    return Reply(m.SaslHandshakeResponse(error_code=int(ErrorCode.ILLEGAL_SASL_STATE), mechanisms=[]))


async def authenticate(ctx: BrokerContext, header: RequestHeader, body: m.SaslAuthenticateRequest) -> Reply:
    return Reply(m.SaslAuthenticateResponse(error_code=int(ErrorCode.ILLEGAL_SASL_STATE), error_message=_why()))
