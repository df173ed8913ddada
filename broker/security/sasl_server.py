"""The broker's side of SASL on one connection (KIP-152): SaslHandshake, then SaslAuthenticate
rounds until the mechanism is done.

States: HANDSHAKE (expects SaslHandshake v1 naming an enabled mechanism) -> AUTHENTICATE (each
SaslAuthenticate token goes to the mechanism) -> COMPLETE (the session's principal is set) or
FAILED. Every wrong move answers with Kafka's code (UNSUPPORTED_SASL_MECHANISM,
ILLEGAL_SASL_STATE, SASL_AUTHENTICATION_FAILED) and asks the connection to close after the
answer. PLAIN checks user_<name>="password" from the listener's JAAS config; SCRAM checks the
credentials kept in coord under /config/users/<user>. Re-authentication (KIP-368) is not
offered: session_lifetime_ms is 0, and a second SaslHandshake is ILLEGAL_SASL_STATE. This module
must never touch a socket: the connection hands it decoded requests and sends its replies.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.scram import HASHES

from broker.security.scram_server import AuthenticationFailedError, CredentialLookup, ScramServer
from broker.security.session import Session
from broker.server.handlers.common import Reply

log = logging.getLogger(__name__)

SASL_APIS = frozenset({ApiKey.SASL_HANDSHAKE, ApiKey.SASL_AUTHENTICATE})
HANDSHAKE, AUTHENTICATE, COMPLETE, FAILED = "handshake", "authenticate", "complete", "failed"


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

    def __init__(self, session: Session, mechanisms: list[str], plain_users: Callable[[], dict[str, str]],
                 scram_lookup: CredentialLookup) -> None:
        self.session = session
        self.mechanisms = mechanisms
        self._plain_users = plain_users
        self._lookup = scram_lookup
        self.state = HANDSHAKE
        self._mechanism: PlainServer | ScramSteps | None = None
        self._name = ""

    @property
    def complete(self) -> bool:
        return self.state == COMPLETE

    async def handle(self, header: RequestHeader, body: object) -> tuple[Reply, str | None]:
        """The reply to one SASL request, and the reason to close after it (None: go on)."""
        if header.api_key == ApiKey.SASL_HANDSHAKE:
            return self._handshake(body)
        return await self._authenticate(body)

    def _handshake(self, body: m.SaslHandshakeRequest) -> tuple[Reply, str | None]:
        if self.state != HANDSHAKE:
            return self._fail(Reply(m.SaslHandshakeResponse(error_code=int(ErrorCode.ILLEGAL_SASL_STATE),
                                                            mechanisms=self.mechanisms)),
                              "a second SaslHandshake (re-authentication is not supported)")
        name = body.mechanism
        if name not in self.mechanisms:
            return self._fail(Reply(m.SaslHandshakeResponse(error_code=int(ErrorCode.UNSUPPORTED_SASL_MECHANISM),
                                                            mechanisms=self.mechanisms)),
                              f"SASL mechanism {name[:40]!r} is not enabled (enabled: {', '.join(self.mechanisms)})")
        self._name = name
        self._mechanism = PlainServer(self._plain_users()) if name == "PLAIN" else ScramSteps(name, self._lookup)
        self.state = AUTHENTICATE
        return Reply(m.SaslHandshakeResponse(error_code=0, mechanisms=self.mechanisms)), None

    async def _authenticate(self, body: m.SaslAuthenticateRequest) -> tuple[Reply, str | None]:
        R = m.SaslAuthenticateResponse
        if self.state != AUTHENTICATE or self._mechanism is None:
            message = "SaslAuthenticate before SaslHandshake" if self.state == HANDSHAKE else "authentication is over"
            return self._fail(Reply(R(error_code=int(ErrorCode.ILLEGAL_SASL_STATE), error_message=message)), message)
        try:
            answer, done = await self._mechanism.step(body.auth_bytes)
        except AuthenticationFailedError as exc:
            message = f"Authentication failed during authentication due to invalid credentials with SASL " \
                      f"mechanism {self._name}"
            return self._fail(Reply(R(error_code=int(ErrorCode.SASL_AUTHENTICATION_FAILED), error_message=message)),
                              f"SASL {self._name} authentication failed: {exc}")
        if done:
            self.state = COMPLETE
            self.session.principal = f"User:{self._mechanism.username}"
            log.debug("%s authenticated with %s on listener %s", self.session.principal, self._name,
                      self.session.listener)
        return Reply(R(error_code=0, error_message=None, auth_bytes=answer, session_lifetime_ms=0)), None

    def _fail(self, reply: Reply, reason: str) -> tuple[Reply, str]:
        self.state = FAILED
        return reply, f"{reason} (from {self.session.host or 'unknown host'})"


def enabled_mechanisms(value: str) -> list[str]:
    """`sasl.enabled.mechanisms` as the list we can serve (unknown names raise ValueError)."""
    names = [n.strip().upper() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n != "PLAIN" and n not in HASHES]
    if unknown:
        raise ValueError(f"sasl.enabled.mechanisms: pybroker does not serve {', '.join(unknown)} "
                         f"(it serves PLAIN, {', '.join(HASHES)})")
    return names
