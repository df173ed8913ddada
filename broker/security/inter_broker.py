"""How this broker reaches the others: the inter-broker listener's name and the client-side
security for it (a TLS context with our own certificate, SASL credentials).

The controller's channel, the replica fetchers and the requests to the controller all dial
the endpoint of this listener in the addressee's registration, so a deployment can keep
LeaderAndIsr, StopReplica, UpdateMetadata and follower fetches on a listener clients never
reach. The SASL identity is `username`/`password` in the inter-broker listener's JAAS config
for `sasl.mechanism.inter.broker.protocol`, as in Kafka. This module must never pick a
listener for client traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from broker.config import ConfigError
from broker.metadata.znodes import BrokerInfo
from broker.security.listeners import Listener
from broker.security.settings import setting
from broker.security.tls import client_context
from client.conn import BrokerConnection
from client.errors import BrokerConnectionError
from client.jaas import JaasError, parse_jaas_options
from client.security import PLAINTEXT, ClientSecurity


@dataclass
class InterBrokerLink:
    listener: str = "PLAINTEXT"
    security: ClientSecurity = field(default_factory=lambda: PLAINTEXT)

    async def open(self, info: BrokerInfo, *, client_id: str, request_timeout_ms: int) -> BrokerConnection:
        """A connection to broker `info` on the inter-broker listener (BrokerConnectionError
        if it registered no such listener, or it cannot be reached)."""
        endpoint = info.endpoint(self.listener)
        if endpoint is None:
            raise BrokerConnectionError(
                f"broker {info.broker_id} registered no {self.listener} listener "
                f"(inter.broker.listener.name); it has "
                f"{', '.join(e.listener for e in info.endpoints) or 'PLAINTEXT'}"
            )
        return await BrokerConnection.open(
            endpoint.host,
            endpoint.port,
            client_id=client_id,
            request_timeout_ms=request_timeout_ms,
            security=self.security,
        )


def link_for(config: Any, listener: Listener) -> InterBrokerLink:
    """The link to other brokers over `listener`, with this broker's own credentials."""
    mechanism = None
    username = password = None
    if listener.sasl:
        mechanism = str(config.sasl_mechanism_inter_broker_protocol).upper()
        jaas = setting(config, listener.name, "sasl.jaas.config", mechanism)
        try:
            options = parse_jaas_options(jaas) if jaas else {}
        except JaasError as exc:
            raise ConfigError(f"sasl.jaas.config of listener {listener.name}: {exc}") from None
        username, password = options.get("username"), options.get("password")
        if username is None or password is None:
            raise ConfigError(
                f"inter-broker listener {listener.name} is {listener.protocol}: its sasl.jaas.config "
                f'for {mechanism} needs username="..." password="..." (this broker\'s own login)'
            )
    context = client_context(config, listener.name) if listener.tls else None
    return InterBrokerLink(
        listener.name,
        ClientSecurity(
            listener.protocol, context, bool(context and context.check_hostname), mechanism, username, password
        ),
    )
