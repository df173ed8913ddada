"""Who sent the request being handled: the listener it arrived on and the authenticated principal.

Each connection sets its `Session` in the context its request tasks run in (Kafka's
RequestContext, without widening every handler's signature), so a handler asks `current()`
when the answer depends on the caller: Metadata names the endpoints of the caller's
listener, the inter-broker APIs refuse callers from other listeners. A request with no
connection (the controller's requests to its own broker, handlers driven by tests) runs as
`LOCAL`: this broker itself. This module must never authenticate or authorize; it only
carries what the connection established.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

ANONYMOUS = "User:ANONYMOUS"


@dataclass
class Session:
    listener: str | None  # None: no listener (this broker itself)
    protocol: str = "PLAINTEXT"
    principal: str = ANONYMOUS  # "User:<name>" once known (TLS client cert or SASL)
    host: str = ""  # the peer's address
    inter_broker: bool = True  # on the inter-broker listener, or on a broker with one listener

    @property
    def local(self) -> bool:
        return self.listener is None


LOCAL = Session(listener=None)
_CURRENT: ContextVar[Session] = ContextVar("pybroker_session", default=LOCAL)


def current() -> Session:
    """The session of the request this task is handling (LOCAL outside any connection)."""
    return _CURRENT.get()


def bind(session: Session) -> None:
    """Make `session` current in this context (call inside the connection's own context)."""
    _CURRENT.set(session)
