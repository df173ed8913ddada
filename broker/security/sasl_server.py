"""The broker's side of SASL on one connection: SaslHandshake, then the mechanism's tokens until
it is done, and the session's lifetime and re-authentication (KIP-368).

States: HANDSHAKE (expects SaslHandshake naming an enabled mechanism) -> AUTHENTICATE (each token
goes to the mechanism) -> COMPLETE (the session's principal is set) or FAILED. After a
SaslHandshake v1 the tokens come in SaslAuthenticate requests (KIP-152); after a v0 one they come
as bare length-prefixed frames and are answered the same way (`raw_tokens`, `raw_token`), as
Kafka's brokers still serve pre-1.0 clients. Every wrong move answers with Kafka's code
(UNSUPPORTED_SASL_MECHANISM, ILLEGAL_SASL_STATE, SASL_AUTHENTICATION_FAILED) and asks the
connection to close after the answer; a failed bare-token exchange has no answer to give and
just closes. PLAIN checks user_<name>="password" from the listener's JAAS config; SCRAM checks
the credentials kept in coord under /config/users/<user>.

Lifetime: with `connections.max.reauth.ms` > 0 (per mechanism) a completed authentication lasts
that long; SaslAuthenticate v1+ tells the client (session_lifetime_ms). Before it ends, a client
re-authenticates on the same connection by sending SaslHandshake again (`begins_reauthentication`,
at most once a second, same mechanism and principal, as Kafka requires); a session that expired
(`expired`) gets its next other request refused by closing the connection. This module must
never touch a socket: the connection hands it decoded requests and frames and sends its replies.
"""

from __future__ import annotations

import hmac
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from broker.security.scram_server import AuthenticationFailedError, CredentialLookup, ScramServer
from broker.security.session import Session
from broker.server.handlers.common import Reply
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.scram import HASHES

log = logging.getLogger(__name__)

SASL_APIS = frozenset({ApiKey.SASL_HANDSHAKE, ApiKey.SASL_AUTHENTICATE})
HANDSHAKE, AUTHENTICATE, COMPLETE, FAILED = "handshake", "authenticate", "complete", "failed"
# Kafka lets a connection start re-authenticating at most once a second.
MIN_REAUTH_INTERVAL = 1.0


@dataclass
class RawToken:
    """A SASL token sent bare after SaslHandshake v0: a length prefix and the bytes, no header."""

    token: bytes

    def frame(self) -> bytes:
        return struct.pack(">i", len(self.token)) + self.token


class PlainServer:
    """RFC 4616: one token "[authzid] NUL authcid NUL password"."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.username: str | None = None

    async def step(self, token: bytes) -> tuple[bytes, bool]:
        parts = token.split(b"\0")
        if len(parts) != 3:
            raise AuthenticationFailedError("malformed PLAIN token (expected authzid NUL user NUL password)")
        try:
            authzid, user, password = (p.decode() for p in parts)
        except UnicodeDecodeError:
            raise AuthenticationFailedError("PLAIN token is not UTF-8") from None
        if authzid and authzid != user:
            raise AuthenticationFailedError(f"authorization id {authzid!r} is not the user {user!r}")
        expected = self.users.get(user)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            raise AuthenticationFailedError("invalid username or password")
        self.username = user
        return b"", True


class ScramSteps:
    """ScramServer as two steps of `step(token)`."""

    def __init__(self, mechanism: str, lookup: CredentialLookup) -> None:
        self.server = ScramServer(mechanism)
        self.lookup = lookup
        self.rounds = 0
        self.username: str | None = None

    async def step(self, token: bytes) -> tuple[bytes, bool]:
        self.rounds += 1
        if self.rounds == 1:
            return await self.server.first(token, self.lookup), False
        if self.rounds == 2:
            answer = self.server.final(token)
            self.username = self.server.username
            return answer, True
        raise AuthenticationFailedError("SCRAM exchange is over")


class SaslAuthenticator:
    """One connection's SASL state; `handle` takes each SASL request in arrival order."""

    def __init__(
        self,
        session: Session,
        mechanisms: list[str],
        plain_users: Callable[[], dict[str, str]],
        scram_lookup: CredentialLookup,
        max_reauth_ms: Callable[[str], int] = lambda mechanism: 0,
    ) -> None:
        """`max_reauth_ms(mechanism)`: connections.max.reauth.ms for that mechanism (0: no limit)."""
        self.session = session
        self.mechanisms = mechanisms
        self._plain_users = plain_users
        self._lookup = scram_lookup
        self._max_reauth_ms = max_reauth_ms
        self.state = HANDSHAKE
        self._mechanism: PlainServer | ScramSteps | None = None
        self._name = ""
        self.raw_tokens = False  # after SaslHandshake v0, until the exchange ends
        self._raw_exchange = False  # the session began with SaslHandshake v0
        self.expires_at: float | None = None  # monotonic end of the session (None: never)
        self._reauth_started = 0.0
        self._previous: tuple[str, str] | None = None  # (mechanism, principal) while re-authenticating

    @property
    def complete(self) -> bool:
        return self.state == COMPLETE

    def takes(self, api_key: int, now: float) -> bool:
        """Whether the request with `api_key` is this authenticator's to answer (`handle`): every
        request but ApiVersions before authentication, and a SaslHandshake that starts a
        re-authentication."""
        if not self.complete:
            return api_key != ApiKey.API_VERSIONS
        return api_key == ApiKey.SASL_HANDSHAKE and self.begins_reauthentication(now)

    def begins_reauthentication(self, now: float) -> bool:
        """Start over for a client re-authenticating (KIP-368), if it may: the session is
        complete, its exchange used SaslAuthenticate framing (v0's bare tokens cannot be told
        from requests afterwards) and the last re-authentication began a second ago or more."""
        if not self.complete or self._raw_exchange:
            return False
        if self._reauth_started and now - self._reauth_started < MIN_REAUTH_INTERVAL:
            return False
        self._reauth_started = now
        self._previous = (self._name, self.session.principal)
        self.state = HANDSHAKE
        return True

    def expired(self, now: float) -> bool:
        """Whether the session's lifetime is over (a completed one; re-authenticating counts as
        live, as in Kafka, until the new exchange ends)."""
        return self.complete and self.expires_at is not None and now > self.expires_at

    async def handle(self, header: RequestHeader, body: object) -> tuple[Reply, str | None]:
        """The reply to one SASL request, and the reason to close after it (None: go on)."""
        if header.api_key == ApiKey.SASL_HANDSHAKE:
            return self._handshake(body, header.api_version)
        return await self._authenticate(body)

    @property
    def _text(self) -> str:
        return "re-authentication" if self._previous is not None else "authentication"

    def _handshake(self, body: m.SaslHandshakeRequest, version: int) -> tuple[Reply, str | None]:
        R = m.SaslHandshakeResponse
        if self.state != HANDSHAKE:
            return self._fail(
                Reply(R(error_code=int(ErrorCode.ILLEGAL_SASL_STATE), mechanisms=self.mechanisms)),
                "a second SaslHandshake during one exchange",
            )
        name = body.mechanism
        if name not in self.mechanisms:
            return self._fail(
                Reply(R(error_code=int(ErrorCode.UNSUPPORTED_SASL_MECHANISM), mechanisms=self.mechanisms)),
                f"SASL mechanism {name[:40]!r} is not enabled (enabled: {', '.join(self.mechanisms)})",
            )
        if self._previous is not None and name != self._previous[0]:
            return self._fail(
                Reply(R(error_code=int(ErrorCode.UNSUPPORTED_SASL_MECHANISM), mechanisms=self.mechanisms)),
                f"re-authentication with {name[:40]!r} of a session that used {self._previous[0]}",
            )
        self._name = name
        self._mechanism = PlainServer(self._plain_users()) if name == "PLAIN" else ScramSteps(name, self._lookup)
        self.state = AUTHENTICATE
        self.raw_tokens = self._raw_exchange = version == 0
        return Reply(R(error_code=0, mechanisms=self.mechanisms)), None

    async def raw_token(self, token: bytes) -> tuple[RawToken | None, str | None]:
        """The bare answer to one bare token after SaslHandshake v0 (None when the exchange
        failed: the client is told nothing, as by Kafka), and the reason to close."""
        assert self._mechanism is not None and self.state == AUTHENTICATE, "bare tokens follow a v0 handshake"
        try:
            answer, done = await self._mechanism.step(bytes(token))
            if done:
                self._completed()
        except AuthenticationFailedError as exc:
            self.raw_tokens = False
            return self._fail(None, f"SASL {self._name} {self._text} failed: {exc}")
        return RawToken(answer), None

    async def _authenticate(self, body: m.SaslAuthenticateRequest) -> tuple[Reply, str | None]:
        R = m.SaslAuthenticateResponse
        if self.state != AUTHENTICATE or self._mechanism is None:
            message = "SaslAuthenticate before SaslHandshake" if self.state == HANDSHAKE else "authentication is over"
            return self._fail(Reply(R(error_code=int(ErrorCode.ILLEGAL_SASL_STATE), error_message=message)), message)
        lifetime_ms = 0
        try:
            answer, done = await self._mechanism.step(body.auth_bytes)
            if done:
                lifetime_ms = self._completed()
        except AuthenticationFailedError as exc:
            message = (
                f"Authentication failed during {self._text} due to invalid credentials with SASL mechanism {self._name}"
            )
            return self._fail(
                Reply(R(error_code=int(ErrorCode.SASL_AUTHENTICATION_FAILED), error_message=message)),
                f"SASL {self._name} {self._text} failed: {exc}",
            )
        return Reply(R(error_code=0, error_message=None, auth_bytes=answer, session_lifetime_ms=lifetime_ms)), None

    def _completed(self) -> int:
        """Set the principal and the session's end; the lifetime in ms (0: none). Raises
        AuthenticationFailedError if a re-authentication names another principal."""
        assert self._mechanism is not None
        principal = f"User:{self._mechanism.username}"
        if self._previous is not None and principal != self._previous[1]:
            raise AuthenticationFailedError(
                f"cannot change principals during re-authentication from {self._previous[1]} to {principal}"
            )
        lifetime_ms = max(0, int(self._max_reauth_ms(self._name) or 0))
        self.expires_at = time.monotonic() + lifetime_ms / 1000 if lifetime_ms else None
        log.debug(
            "%s %s with %s on listener %s (session lifetime %d ms)",
            principal,
            "re-authenticated" if self._previous else "authenticated",
            self._name,
            self.session.listener,
            lifetime_ms,
        )
        self.state = COMPLETE
        self.raw_tokens = False
        self._previous = None
        self.session.principal = principal
        return lifetime_ms

    def _fail(self, reply: Reply | None, reason: str) -> tuple[Any, str]:
        self.state = FAILED
        return reply, f"{reason} (from {self.session.host or 'unknown host'})"


def enabled_mechanisms(value: str) -> list[str]:
    """`sasl.enabled.mechanisms` as the list we can serve (unknown names raise ValueError)."""
    names = [n.strip().upper() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n != "PLAIN" and n not in HASHES]
    if unknown:
        raise ValueError(
            f"sasl.enabled.mechanisms: pybroker does not serve {', '.join(unknown)} "
            f"(it serves PLAIN, {', '.join(HASHES)})"
        )
    return names
