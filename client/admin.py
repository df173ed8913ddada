"""AsyncAdmin: create, delete, list and describe topics, and describe the cluster.

Each call is one request to the controller when metadata names one, else to any broker
that answers; a per-topic refusal becomes the broker's typed exception, raised for the
first failing topic (the broker has still acted on the others in the same request).
This module must never retry a create or delete on its own: those are not idempotent
from the caller's point of view.
"""

from __future__ import annotations

from collections.abc import Iterable

from client.client import NetworkClient
from client.protocol.api import ApiKey
from client.protocol.errors import BrokerError, raise_for
from client.structs import ClusterDescription, NewTopic, TopicDescription


class AsyncAdmin:
    def __init__(self, bootstrap_servers: str | list[str] = "127.0.0.1:9092", *, request_timeout_ms: int = 30000,
                 retry_backoff_ms: int = 100, client_id: str = "pybroker-admin") -> None:
        self.client = NetworkClient(bootstrap_servers, client_id=client_id, request_timeout_ms=request_timeout_ms,
                                    retry_backoff_ms=retry_backoff_ms)
        self.timeout_ms = request_timeout_ms

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    async def __aenter__(self) -> "AsyncAdmin":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, api_key: ApiKey, body: dict) -> dict:
        controller = self.client.cluster.controller_id
        if controller in self.client.cluster.brokers:
            response = await self.client.request(controller, api_key, body)
        else:
            response = await self.client.any_request(api_key, body)
        raise_for(response.body.get("error", 0), response.body.get("message"))
        return response.body

    async def create_topics(self, topics: Iterable[NewTopic], *, validate_only: bool = False) -> None:
        """Create every topic; raises the first refusal (e.g. TopicAlreadyExistsError)."""
        entries = []
        for t in topics:
            t = NewTopic(t) if isinstance(t, str) else t
            entries.append({"name": t.name, "num_partitions": t.num_partitions,
                            "replication_factor": t.replication_factor, "configs": dict(t.configs or {})})
        body = await self._call(ApiKey.CREATE_TOPICS, {"topics": entries, "timeout_ms": self.timeout_ms,
                                                      "validate_only": validate_only})
        self._raise_first(body)

    async def delete_topics(self, names: Iterable[str]) -> None:
        body = await self._call(ApiKey.DELETE_TOPICS, {"topics": list(names), "timeout_ms": self.timeout_ms})
        self._raise_first(body)
        for name in body.get("topics", ()):
            self.client.cluster.forget(name["name"])

    async def list_topics(self) -> list[str]:
        cluster = await self.client.refresh_metadata(all_topics=True)
        return cluster.topics()

    async def describe_topics(self, names: Iterable[str] | None = None) -> list[TopicDescription]:
        """Partitions, leaders, replicas and ISR; raises UnknownTopicOrPartitionError for a missing topic."""
        wanted = None if names is None else list(names)
        body = await self._call(ApiKey.METADATA, {"topics": wanted})
        self.client.cluster.update(body)
        out = []
        for topic in body.get("topics", ()):
            raise_for(topic.get("error", 0), topic.get("message") or f"topic {topic['name']!r} does not exist")
            out.append(TopicDescription(topic["name"], self.client.cluster.describe(topic["name"])))
        return sorted(out)

    async def describe_cluster(self) -> ClusterDescription:
        cluster = await self.client.refresh_metadata()
        return ClusterDescription(cluster.cluster_id, cluster.controller_id, sorted(cluster.brokers.values()))

    @staticmethod
    def _raise_first(body: dict) -> None:
        for topic in body.get("topics", ()):
            if topic.get("error", 0):
                raise BrokerError.for_code(topic["error"], topic.get("message") or topic["name"])
