"""The small value types every part of the client hands around, named as Kafka names them.

They are plain named tuples so that building millions of them (one ConsumerRecord per
record) stays cheap and so that they compare, hash and print without ceremony. This
module must never hold behaviour beyond the values themselves.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class TopicPartition(NamedTuple):
    topic: str
    partition: int


class RecordMetadata(NamedTuple):
    """Where an acknowledged record landed. `offset` is -1 when acks=0 (nobody told us)."""

    topic: str
    partition: int
    offset: int
    timestamp: int


class ConsumerRecord(NamedTuple):
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: Any
    headers: list[tuple[str, bytes | None]] | None


class NewTopic(NamedTuple):
    """A topic to create: `configs` uses Kafka's names (`retention.ms`, ...), as strings."""

    name: str
    num_partitions: int = 1
    replication_factor: int = 1
    configs: dict[str, str] | None = None


class PartitionDescription(NamedTuple):
    partition: int
    leader: int
    leader_epoch: int
    replicas: list[int]
    isr: list[int]


class TopicDescription(NamedTuple):
    name: str
    partitions: list[PartitionDescription]


class BrokerDescription(NamedTuple):
    id: int
    host: str
    port: int
    rack: str | None


class ClusterDescription(NamedTuple):
    cluster_id: str | None
    controller_id: int
    brokers: list[BrokerDescription]


class GroupListing(NamedTuple):
    group_id: str
    protocol_type: str
    state: str


class MemberDescription(NamedTuple):
    """A group member; `assignment` is decoded when the group uses the consumer protocol."""

    member_id: str
    group_instance_id: str | None
    client_id: str
    assignment: list[TopicPartition]


class GroupDescription(NamedTuple):
    group_id: str
    state: str
    protocol_type: str
    protocol: str
    generation_id: int
    coordinator: int
    members: list[MemberDescription]
