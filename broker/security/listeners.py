"""Kafka's listener settings, parsed: `listeners`, `advertised.listeners`,
`listener.security.protocol.map`, `inter.broker.listener.name`.

A listener is a name (PLAINTEXT, INTERNAL, ...) bound to HOST:PORT and mapped to one of the four
security protocols. Clients are told the advertised endpoint of the listener they connected
on; brokers reach each other on the inter-broker listener. Without `listeners` the broker has
one PLAINTEXT listener on `host`:`port` (the `--port` / `--listen` flags). This module must
never open a socket: it only turns settings into `Listener` values or a ConfigError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
# Kafka's default listener.security.protocol.map: each protocol's name maps to itself.
DEFAULT_PROTOCOL_MAP = {p: p for p in PROTOCOLS}


class ListenerError(ValueError):
    """A listener setting a user must fix; the message names the setting and the fault."""


@dataclass(frozen=True)
class Listener:
    name: str
    host: str
    port: int  # 0: any free port (tests)
    protocol: str  # one of PROTOCOLS

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")


def protocol_map(value: str | None) -> dict[str, str]:
    """`listener.security.protocol.map` ("NAME:PROTOCOL,...") or Kafka's default."""
    if not value:
        return dict(DEFAULT_PROTOCOL_MAP)
    out = {}
    for item in value.split(","):
        name, sep, proto = item.strip().partition(":")
        if not sep or not name or proto.upper() not in PROTOCOLS:
            raise ListenerError(
                f"listener.security.protocol.map entry {item!r}: expected NAME:PROTOCOL with "
                f"PROTOCOL one of {', '.join(PROTOCOLS)}"
            )
        out[name.upper()] = proto.upper()
    return out


def parse_listeners(value: str, protocols: dict[str, str], what: str = "listeners") -> list[Listener]:
    """ "NAME://HOST:PORT,..." as listeners; names unique and each in the protocol map.
    An empty HOST (Kafka's "PLAINTEXT://:9092") binds every interface."""
    out: list[Listener] = []
    for item in (i.strip() for i in value.split(",") if i.strip()):
        name, sep, address = item.partition("://")
        host, colon, port = address.rpartition(":")
        if not sep or not colon or not port.isdigit() or int(port) > 65535:
            raise ListenerError(f"{what} entry {item!r}: expected NAME://HOST:PORT, e.g. PLAINTEXT://10.0.0.1:9092")
        name = name.upper()
        if name not in protocols:
            raise ListenerError(
                f"{what} entry {item!r}: listener {name} is not in listener.security.protocol.map "
                f"({', '.join(sorted(protocols))})"
            )
        if any(existing.name == name for existing in out):
            raise ListenerError(f"{what}: listener {name} is named twice")
        out.append(Listener(name, host.strip("[]") or "0.0.0.0", int(port), protocols[name]))
    if not out:
        raise ListenerError(f"{what} is empty")
    return out


def bound_listeners(config: Any) -> list[Listener]:
    """The listeners this broker binds: `listeners`, else one PLAINTEXT on host:port."""
    protocols = protocol_map(config.listener_security_protocol_map)
    if config.listeners:
        return parse_listeners(config.listeners, protocols)
    return [Listener("PLAINTEXT", config.host, config.port, "PLAINTEXT")]


def advertised_listeners(config: Any, bound: list[Listener]) -> list[Listener]:
    """What the broker registers: `advertised.listeners` where given (by name), else the
    bound address; a port of 0 in `bound` is the port actually bound (the caller fills it)."""
    protocols = protocol_map(config.listener_security_protocol_map)
    if config.advertised_listeners:
        given = {a.name: a for a in parse_listeners(config.advertised_listeners, protocols, "advertised.listeners")}
        unknown = set(given) - {b.name for b in bound}
        if unknown:
            raise ListenerError(f"advertised.listeners names {', '.join(sorted(unknown))}, which listeners does not")
        return [given.get(b.name, b) for b in bound]
    if not config.listeners and (config.advertised_host or config.advertised_port):
        b = bound[0]
        return [Listener(b.name, config.advertised_host or b.host, config.advertised_port or b.port, b.protocol)]
    return list(bound)


def inter_broker_listener(config: Any, bound: list[Listener]) -> Listener:
    """`inter.broker.listener.name`, else the listener named PLAINTEXT, else the only one."""
    names = {b.name: b for b in bound}
    wanted = (config.inter_broker_listener_name or "").upper()
    if wanted:
        if wanted not in names:
            raise ListenerError(f"inter.broker.listener.name {wanted} is not one of listeners ({', '.join(names)})")
        return names[wanted]
    if "PLAINTEXT" in names:
        return names["PLAINTEXT"]
    if len(bound) == 1:
        return bound[0]
    raise ListenerError(
        f"several listeners ({', '.join(names)}) and none named PLAINTEXT: set "
        "inter.broker.listener.name to the one brokers use among themselves"
    )
