"""The client's SASL exchange on a fresh connection (KIP-152): SaslHandshake v1 names the
mechanism, then SaslAuthenticate carries each token until the mechanism is done.

PLAIN is one token ("\\0user\\0password", RFC 4616); SCRAM-SHA-256/512 is two rounds
(`client.scram`). Any refusal raises AuthenticationError with the broker's message. This
module must never retry or choose a mechanism the user did not configure.
"""

from __future__ import annotations

from typing import Any

from client.errors import AuthenticationError, ErrorCode
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.scram import HASHES, ScramClient, ScramError
from client.security import ClientSecurity

HANDSHAKE_VERSION = 1


async def _round(conn: Any, token: bytes) -> bytes:
    version = conn.version_for(ApiKey.SASL_AUTHENTICATE)
    answer = await conn.request(
        ApiKey.SASL_AUTHENTICATE, m.SaslAuthenticateRequest(auth_bytes=token), api_version=version
    )
    if answer.error_code:
        raise AuthenticationError(
            f"broker {conn.host}:{conn.port} refused SASL authentication: "
            f"{ErrorCode(answer.error_code).name}: {answer.error_message or ''}".rstrip(": ")
        )
    return answer.auth_bytes


async def authenticate(conn: Any, security: ClientSecurity) -> None:
    """Authenticate `conn` (a BrokerConnection after ApiVersions) as `security` says."""
    mechanism = security.sasl_mechanism or "PLAIN"
    answer = await conn.request(
        ApiKey.SASL_HANDSHAKE, m.SaslHandshakeRequest(mechanism=mechanism), api_version=HANDSHAKE_VERSION
    )
    if answer.error_code:
        raise AuthenticationError(
            f"broker {conn.host}:{conn.port} refused SASL mechanism {mechanism} "
            f"({ErrorCode(answer.error_code).name}); it enables: "
            f"{', '.join(answer.mechanisms) or 'none'}"
        )
    user, password = security.sasl_plain_username or "", security.sasl_plain_password or ""
    if mechanism == "PLAIN":
        await _round(conn, b"\0" + user.encode() + b"\0" + password.encode())
        return
    if mechanism not in HASHES:
        raise AuthenticationError(f"this client does not speak SASL mechanism {mechanism}")
    scram = ScramClient(mechanism, user, password)
    try:
        server_first = await _round(conn, scram.first())
        server_final = await _round(conn, scram.final(server_first))
        scram.verify(server_final)
    except ScramError as exc:
        raise AuthenticationError(f"SCRAM with broker {conn.host}:{conn.port}: {exc}") from None
