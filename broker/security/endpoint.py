"""One bound listener at run time: what a new connection on it gets (its TLS context, its
session, its SASL authenticator), built once from the settings when the broker starts.

This module must never accept connections or read requests; `broker.server.broker` binds
the sockets and `broker.server.connection` runs them with what this provides.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Any

from broker.config import ConfigError
from broker.security.listeners import Listener
from broker.security.sasl_server import SaslAuthenticator, enabled_mechanisms
from broker.security.scram_server import CredentialLookup
from broker.security.session import ANONYMOUS, Session
from broker.security.settings import setting
from broker.security.tls import certificate_principal, server_context
from client.jaas import JaasError, parse_jaas_options


@dataclass
class ListenerRuntime:
    listener: Listener
    inter_broker: bool  # requests from it may be inter-broker ones
    ssl_context: ssl.SSLContext | None = None
    mechanisms: list[str] = field(default_factory=list)
    plain_users: dict[str, str] = field(default_factory=dict)
    scram_lookup: CredentialLookup | None = None
    max_reauth_ms: dict[str, int] = field(default_factory=dict)  # mechanism -> connections.max.reauth.ms

    def session(self, writer: asyncio.StreamWriter) -> Session:
        peer = writer.get_extra_info("peername")
        principal = None
        if self.ssl_context is not None and not self.listener.sasl:
            principal = certificate_principal(writer.get_extra_info("peercert"))
        return Session(
            self.listener.name,
            self.listener.protocol,
            principal or ANONYMOUS,
            peer[0] if peer else "",
            self.inter_broker,
        )

    def authenticator(self, session: Session) -> SaslAuthenticator | None:
        if not self.listener.sasl:
            return None
        assert self.scram_lookup is not None, "a SASL listener needs the credential lookup"
        return SaslAuthenticator(
            session,
            self.mechanisms,
            lambda: self.plain_users,
            self.scram_lookup,
            lambda mechanism: self.max_reauth_ms.get(mechanism, 0),
        )


def _plain_users(config: Any, name: str) -> dict[str, str]:
    jaas = setting(config, name, "sasl.jaas.config", "PLAIN")
    if not jaas:
        return {}
    try:
        options = parse_jaas_options(jaas)
    except JaasError as exc:
        raise ConfigError(f"sasl.jaas.config of listener {name}: {exc}") from None
    return {k.removeprefix("user_"): v for k, v in options.items() if k.startswith("user_")}


def runtime_for(
    config: Any, listener: Listener, inter_broker: bool, scram_lookup: CredentialLookup | None
) -> ListenerRuntime:
    """The run-time form of `listener`; ConfigError for unusable TLS or SASL settings."""
    runtime = ListenerRuntime(listener, inter_broker)
    if listener.tls:
        runtime.ssl_context = server_context(config, listener.name)
    if listener.sasl:
        value = setting(config, listener.name, "sasl.enabled.mechanisms") or ""
        try:
            runtime.mechanisms = enabled_mechanisms(str(value))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        runtime.plain_users = _plain_users(config, listener.name)
        runtime.scram_lookup = scram_lookup
        for mechanism in runtime.mechanisms:
            value = setting(config, listener.name, "connections.max.reauth.ms", mechanism)
            try:
                runtime.max_reauth_ms[mechanism] = int(value or 0)
            except ValueError:
                raise ConfigError(
                    f"connections.max.reauth.ms of listener {listener.name}: {value!r} is not a number of milliseconds"
                ) from None
    return runtime
