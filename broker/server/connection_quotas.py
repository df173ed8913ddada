"""Connection limits of one broker: `max.connections`, `max.connections.per.ip` and
`max.connections.per.ip.overrides` (Kafka's names and defaults), and the broker-wide count of
request bytes read and not answered yet (`queued.max.request.bytes`).

A connection over a count limit is closed as soon as it is accepted (Kafka closes it too for
the per-address limit; for `max.connections` Kafka's acceptor instead waits for a slot).
This module only counts: it must never touch a socket or read a request.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from broker.config import BrokerConfig, ConfigError


def parse_overrides(value: str) -> dict[str, int]:
    """`host:N,host:N` (Kafka's max.connections.per.ip.overrides) as {host: N}."""
    out: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        host, sep, count = item.rpartition(":")
        if not sep or not host or not count.isdigit():
            raise ConfigError(f"max.connections.per.ip.overrides entry {item!r}: expected HOST:COUNT")
        out[host] = int(count)
    return out


class ConnectionQuotas:
    def __init__(self, config: BrokerConfig) -> None:
        if config.queued_max_requests < 1:
            raise ConfigError(f"queued.max.requests must be at least 1, not {config.queued_max_requests}")
        if config.queued_max_request_bytes == 0 or config.queued_max_request_bytes < -1:
            raise ConfigError(
                f"queued.max.request.bytes must be -1 (no bound) or positive, not {config.queued_max_request_bytes}"
            )
        self.max_total = config.max_connections
        self.max_per_ip = config.max_connections_per_ip
        self.overrides = parse_overrides(config.max_connections_per_ip_overrides)
        self.total = 0
        self.by_ip: Counter[str] = Counter()

    def admit(self, ip: str) -> str | None:
        """Count a new connection from `ip`; or say why it must be closed (not counted)."""
        limit = self.overrides.get(ip, self.max_per_ip)
        if self.by_ip[ip] >= limit:
            return f"{ip} already has the configured maximum of {limit} connections"
        if self.total >= self.max_total:
            return f"the broker already has the configured maximum of {self.max_total} connections"
        self.by_ip[ip] += 1
        self.total += 1
        return None

    def release(self, ip: str) -> None:
        self.total -= 1
        self.by_ip[ip] -= 1
        if self.by_ip[ip] <= 0:
            del self.by_ip[ip]


class RequestBytes:
    """Bytes of complete requests read and not answered yet, over every connection; readers
    wait while they are at or over the bound (-1: no bound), then each reads once more."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._room = asyncio.Event()
        self._room.set()

    def full(self) -> bool:
        return 0 <= self.limit <= self.used

    async def room(self) -> None:
        """Wait while full. Every reader waiting when room appears gets one read, so one
        busy client cannot take all the room each time some is freed."""
        if self.full():
            await self._room.wait()

    def take(self, n: int) -> None:
        self.used += n
        if self.full():
            self._room.clear()

    def give(self, n: int) -> None:
        self.used -= n
        if not self.full():
            self._room.set()
