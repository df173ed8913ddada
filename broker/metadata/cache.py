"""The broker's in-memory view of cluster metadata: brokers, topics, assignments, leaders.

Filled from coord by `broker.metadata.store` (and, in the cluster, by UpdateMetadata);
read by every request handler without awaiting anything. It must never talk to coord
or decide leadership: it only answers "who leads t-p, which replicas, which ISR" from
the last state it was given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from broker.metadata.znodes import BrokerInfo, PartitionState
from broker.security.inter_broker import InterBrokerLink


@dataclass
class TopicMetadata:
    name: str
    assignment: dict[int, list[int]]  # partition -> replicas (AR order)
    configs: dict[str, str] = field(default_factory=dict)
    states: dict[int, PartitionState] = field(default_factory=dict)
    # 16 bytes, from the assignment znode; all zeros until the topic is read from coord
    # (a topic first heard of through UpdateMetadata), which clients take as "no id".
    topic_id: bytes = bytes(16)


class MetadataCache:
    def __init__(self) -> None:
        self.cluster_id: str | None = None
        self.controller_id: int = -1
        self.brokers: dict[int, BrokerInfo] = {}
        self.broker_epochs: dict[int, int] = {}  # czxid of each /brokers/ids/<id> (KIP-380)
        self.topics: dict[str, TopicMetadata] = {}
        # Monotonic time our coord connection went SUSPENDED (None while connected): past
        # the session timeout our session has expired at coord as far as anyone else can
        # tell, so this view is no one's but ours (see `cut_off`).
        self.coord_suspended_at: float | None = None
        # How to reach the other brokers (their inter-broker listener, our credentials).
        self.inter_broker = InterBrokerLink()

    def cut_off(self, now: float, session_timeout_s: float) -> bool:
        """True when coord has been out of reach for longer than our session timeout: the
        other brokers have seen our registration vanish and the controller has moved our
        leadership, so what this cache says about leaders can no longer be trusted."""
        return self.coord_suspended_at is not None and now - self.coord_suspended_at > session_timeout_s

    def set_brokers(self, brokers: dict[int, BrokerInfo], epochs: dict[int, int] | None = None) -> None:
        self.brokers = dict(brokers)
        if epochs is not None:
            self.broker_epochs = dict(epochs)

    def set_topic(self, topic: TopicMetadata) -> None:
        self.topics[topic.name] = topic

    def remove_topic(self, name: str) -> None:
        self.topics.pop(name, None)

    def set_state(self, topic: str, partition: int, state: PartitionState) -> None:
        meta = self.topics.get(topic)
        if meta is not None:
            meta.states[partition] = state

    def offer_state(self, topic: str, partition: int, replicas: list[int], state: PartitionState) -> None:
        """Take `state` unless the cache already holds a newer one (UpdateMetadata and the
        coord watch both feed the cache; whichever is later by (epoch, version) wins)."""
        meta = self.topics.get(topic)
        if meta is None:
            meta = self.topics[topic] = TopicMetadata(topic, {})
        meta.assignment.setdefault(partition, list(replicas))
        old = meta.states.get(partition)
        if old is None or (state.leader_epoch, state.zk_version) >= (old.leader_epoch, old.zk_version):
            meta.states[partition] = state

    def topic(self, name: str) -> TopicMetadata | None:
        return self.topics.get(name)

    def state(self, topic: str, partition: int) -> PartitionState | None:
        meta = self.topics.get(topic)
        return None if meta is None else meta.states.get(partition)

    def leader(self, topic: str, partition: int) -> int:
        """The leader's broker id, or -1 when unknown or offline."""
        state = self.state(topic, partition)
        return -1 if state is None else state.leader

    def has_partition(self, topic: str, partition: int) -> bool:
        meta = self.topics.get(topic)
        return meta is not None and partition in meta.assignment

    def live_broker_ids(self) -> list[int]:
        return sorted(self.brokers)
