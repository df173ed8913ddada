"""The network client shared by producer, consumer and admin: connections and metadata.

Holds one BrokerConnection per broker id, bootstraps from `bootstrap_servers`, and keeps
ClusterMetadata fresh: one Metadata request at a time, shared by everyone asking for a
refresh while it is in flight. This module must never retry a produce or a fetch (their
owners decide that) and never hide a broker's error code from its caller.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from client.cluster import BrokerAddress, ClusterMetadata, parse_bootstrap
from client.conn import BrokerConnection
from client.errors import BrokerConnectionError, ClientError, ClientTimeoutError, NoBrokersAvailableError
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import BrokerError, raise_for
from client.security import PLAINTEXT, ClientSecurity
from client.tasks import cancel_and_wait

log = logging.getLogger(__name__)


def metadata_request(topics: Iterable[str] | None, auto_create: bool = False) -> Any:
    """A Metadata request for `topics` (None: every topic). Our clients do not ask the broker
    to create a missing topic by default: a typo in a topic name must fail clearly (Kafka's
    producer would create it where auto.create.topics.enable allows; `auto_create` opts in)."""
    wanted = None if topics is None else [m.MetadataRequest.MetadataRequestTopic(name=name) for name in sorted(topics)]
    return m.MetadataRequest(topics=wanted, allow_auto_topic_creation=auto_create and topics is not None)


class NetworkClient:
    def __init__(
        self,
        bootstrap_servers: str | list[str],
        *,
        client_id: str,
        request_timeout_ms: int,
        retry_backoff_ms: int,
        metadata_max_age_ms: int = 300_000,
        auto_create_topics: bool = False,
        security: ClientSecurity | None = None,
    ) -> None:
        self.bootstrap = parse_bootstrap(bootstrap_servers)
        self.security = security or PLAINTEXT  # TLS / SASL for every connection (client.security)
        self.client_id = client_id
        self.request_timeout_ms = request_timeout_ms
        self.retry_backoff = retry_backoff_ms / 1000
        self.metadata_max_age = metadata_max_age_ms / 1000
        self.auto_create_topics = auto_create_topics
        self.cluster = ClusterMetadata()
        self.topics: set[str] = set()  # topics whose metadata we keep (None-free: admin asks for all)
        self._conns: dict[int | BrokerAddress, BrokerConnection] = {}
        self._connecting: dict[int | BrokerAddress, asyncio.Future] = {}
        self._refresh: asyncio.Future | None = None
        self._background_refresh: asyncio.Task | None = None
        self._last_refresh = 0.0
        self._rotation = 0  # where least_loaded_first starts among equally loaded brokers
        self.closed = False

    async def start(self) -> None:
        """Reach one bootstrap server and load metadata; raises NoBrokersAvailableError."""
        await self.refresh_metadata()

    async def close(self) -> None:
        """Close every connection, after cancelling and awaiting the metadata refreshes
        still running (a task left pending would be destroyed with the loop, with a warning)."""
        self.closed = True
        await cancel_and_wait([self._background_refresh, self._refresh, *self._connecting.values()])
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()

    # connections
    async def connection(self, node: int | BrokerAddress) -> BrokerConnection:
        conn = self._conns.get(node)
        if conn is not None and conn.connected:
            return conn
        pending = self._connecting.get(node)
        if pending is None:
            pending = asyncio.ensure_future(self._connect(node))
            self._connecting[node] = pending
            pending.add_done_callback(lambda _f: self._connecting.pop(node, None))
        return await asyncio.shield(pending)

    async def _connect(self, node: int | BrokerAddress) -> BrokerConnection:
        if isinstance(node, BrokerAddress):
            host, port = node
        else:
            broker = self.cluster.brokers.get(node)
            if broker is None:
                raise BrokerConnectionError(f"broker {node} is not in the cluster metadata")
            host, port = broker.host, broker.port
        conn = await BrokerConnection.open(
            host, port, client_id=self.client_id, request_timeout_ms=self.request_timeout_ms, security=self.security
        )
        self._conns[node] = conn
        return conn

    def connection_now(self, node: int) -> BrokerConnection | None:
        """The live connection to `node` if one exists (the hot path avoids an await)."""
        conn = self._conns.get(node)
        return conn if conn is not None and conn.connected else None

    async def request(self, node: int | BrokerAddress, api_key: ApiKey, body: Any) -> Any:
        """The typed answer of `node` to `body`, sent at the highest version both sides speak."""
        conn = await self.connection(node)
        return await conn.request(api_key, body)

    def least_loaded_first(self) -> list[int | BrokerAddress]:
        """Nodes to try for a request any broker can answer, as Kafka's leastLoadedNode:
        known brokers with a live connection first, fewest requests in flight first, then the
        unconnected ones, then the bootstrap list. Ties rotate from call to call, so one
        broker serving stale metadata cannot hold the client."""
        nodes: list[int] = list(self.cluster.brokers)
        if nodes:
            self._rotation = (self._rotation + 1) % len(nodes)
            nodes = nodes[self._rotation :] + nodes[: self._rotation]

        def load(node: int) -> tuple[int, int]:
            conn = self.connection_now(node)
            return (0, conn.in_flight) if conn is not None else (1, 0)

        return [*sorted(nodes, key=load), *self.bootstrap]

    async def any_request(self, api_key: ApiKey, body: Any) -> Any:
        """Send to any broker that answers, least loaded first (see least_loaded_first)."""
        errors = []
        for node in self.least_loaded_first():
            try:
                return await self.request(node, api_key, body)
            except (BrokerConnectionError, ClientTimeoutError) as exc:
                errors.append(str(exc))
        raise NoBrokersAvailableError(
            "no broker answered (tried "
            + ", ".join(f"{a.host}:{a.port}" for a in self.bootstrap)
            + "): "
            + "; ".join(errors[-3:])
        )

    # metadata
    @property
    def refreshed_at(self) -> float:
        """time.monotonic() of the last metadata answer."""
        return self._last_refresh

    def metadata_stale(self) -> bool:
        return time.monotonic() - self._last_refresh > self.metadata_max_age

    async def refresh_metadata(self, all_topics: bool = False) -> ClusterMetadata:
        """Ask for metadata now; concurrent callers share one request."""
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.ensure_future(self._do_refresh(all_topics))
        await asyncio.shield(self._refresh)
        return self.cluster

    async def _do_refresh(self, all_topics: bool) -> None:
        answer = await self.any_request(
            ApiKey.METADATA, metadata_request(None if all_topics else self.topics, self.auto_create_topics)
        )
        self.cluster.update(answer)
        self._last_refresh = time.monotonic()

    def request_refresh(self) -> None:
        """Refresh metadata in the background, at most once per retry_backoff_ms."""
        if self._background_refresh is None or self._background_refresh.done():
            self._background_refresh = asyncio.get_running_loop().create_task(self._refresh_in_background())

    async def _refresh_in_background(self) -> None:
        try:
            await self.refresh_metadata()
        except (ClientError, BrokerError) as exc:
            if not self.closed:
                log.warning("metadata refresh failed: %s", exc)
        await asyncio.sleep(self.retry_backoff)

    async def wait_for_topic(self, topic: str, timeout_ms: int) -> list[int]:
        """Partitions of `topic`, refreshing metadata until it appears or the time runs out."""
        self.topics.add(topic)
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            parts = self.cluster.partitions_for(topic)
            if parts:
                return parts
            await self.refresh_metadata()
            parts = self.cluster.partitions_for(topic)
            if parts:
                return parts
            code, message = self.cluster.topic_error(topic)
            if time.monotonic() + self.retry_backoff >= deadline:
                raise_for(
                    code, message or f"topic {topic!r} not found; create it with `pybroker topics create {topic}`"
                )
                raise ClientTimeoutError(f"no metadata for topic {topic!r} within {timeout_ms} ms")
            await asyncio.sleep(self.retry_backoff)
