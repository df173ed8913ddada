"""The client's picture of the cluster: brokers, topics, partitions and their leaders.

Built from Metadata responses (typed MetadataResponse messages) only; the network client decides when to ask again (on
NOT_LEADER / UNKNOWN_TOPIC, on a lost connection, and every `metadata_max_age_ms`).
This module must never do I/O or read the clock: it is a cache with pure updates.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from client.protocol.errors import ErrorCode
from client.structs import BrokerDescription, PartitionDescription, TopicPartition


class ClusterMetadata:
    def __init__(self) -> None:
        self.cluster_id: str | None = None
        self.controller_id = -1
        self.brokers: dict[int, BrokerDescription] = {}
        self._partitions: dict[str, dict[int, PartitionDescription]] = {}
        self.topic_errors: dict[str, tuple[int, str | None]] = {}
        self._sorted: dict[str, list[int]] = {}
        self._available: dict[str, list[int]] = {}

    def update(self, answer: Any) -> None:
        """Replace what we know with a MetadataResponse (topics not in it are kept)."""
        self.cluster_id = answer.cluster_id
        self.controller_id = answer.controller_id
        self.brokers = {b.node_id: BrokerDescription(b.node_id, b.host, b.port, b.rack) for b in answer.brokers}
        for topic in answer.topics:
            name, error = topic.name, topic.error_code
            if error:
                self._partitions.pop(name, None)
                self.topic_errors[name] = (error, None)
                continue
            self.topic_errors.pop(name, None)
            self._partitions[name] = {
                p.partition_index: PartitionDescription(
                    p.partition_index, p.leader_id, p.leader_epoch, list(p.replica_nodes), list(p.isr_nodes)
                )
                for p in topic.partitions
            }
        self._reindex()

    def forget_leader(self, tp: TopicPartition) -> None:
        """The leader of `tp` is no longer known (it refused or could not be reached) until
        the next update says who leads; Kafka's consumer does the same on NOT_LEADER."""
        desc = self._partitions.get(tp.topic, {}).get(tp.partition)
        if desc is not None and desc.leader >= 0:
            self._partitions[tp.topic][tp.partition] = desc._replace(leader=-1)
            self._reindex()

    def forget(self, topic: str) -> None:
        self._partitions.pop(topic, None)
        self._reindex()

    def topics(self) -> list[str]:
        return sorted(self._partitions)

    def partitions_for(self, topic: str) -> list[int] | None:
        """Sorted partition ids, or None if the topic is unknown (not yet fetched or missing).

        The list is cached between updates (the producer asks once per record): do not modify it.
        """
        return self._sorted.get(topic)

    def available_partitions_for(self, topic: str) -> list[int]:
        """Partitions whose leader is a broker we know (cached like partitions_for)."""
        return self._available.get(topic, [])

    def _reindex(self) -> None:
        self._sorted = {t: sorted(parts) for t, parts in self._partitions.items()}
        self._available = {
            t: sorted(p for p, d in parts.items() if d.leader >= 0 and d.leader in self.brokers)
            for t, parts in self._partitions.items()
        }

    def describe(self, topic: str) -> list[PartitionDescription]:
        return [d for _, d in sorted(self._partitions.get(topic, {}).items())]

    def leader_for(self, tp: TopicPartition) -> int | None:
        """The leader's broker id if it is known and alive in our broker list, else None."""
        desc = self._partitions.get(tp.topic, {}).get(tp.partition)
        if desc is None or desc.leader < 0 or desc.leader not in self.brokers:
            return None
        return desc.leader

    def topic_error(self, topic: str) -> tuple[int, str | None]:
        return self.topic_errors.get(topic, (int(ErrorCode.NONE), None))


class BrokerAddress(NamedTuple):
    host: str
    port: int


def parse_bootstrap(servers: str | list[str]) -> list[BrokerAddress]:
    """ "h1:9092,h2:9092" or a list of "host:port" (port defaults to 9092)."""
    items = servers.split(",") if isinstance(servers, str) else list(servers)
    out = []
    for item in (s.strip() for s in items):
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep:
            host, port = item, "9092"
        if not port.isdigit():
            raise ValueError(f"bad bootstrap server {item!r}: expected host:port")
        out.append(BrokerAddress(host or "127.0.0.1", int(port)))
    if not out:
        raise ValueError("bootstrap_servers is empty: give at least one host:port")
    return out
