"""What brokers say to each other, in Kafka's ZooKeeper-era schemas: the versions sent,
the controller's requests built from the metadata cache, and their partition lists read
back at any version a broker serves.

Our partition state maps onto Kafka's fields one to one: the state znode's version (our
"ISR version", which guards the leader's ISR writes) is LeaderAndIsr's `partition_epoch`
and UpdateMetadata's `zk_version`, exactly as in Kafka on ZooKeeper. What Kafka's schema
has no field for is not sent: topic configs (a broker reads them from coord when it opens
a partition, as Kafka does) and topic ids (LeaderAndIsr v5+ and UpdateMetadata v7+ key
topics by id, which our cache does not carry, so we send v4 and v6). This module must
never do I/O or decide anything: the controller decides, the handlers act.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from broker.metadata import znodes as Z
from broker.metadata.cache import MetadataCache
from client.protocol import messages as m
from client.protocol.api import ApiKey

# The version of each inter-broker request a broker sends. Every broker of a cluster runs
# one build, so these are fixed rather than negotiated: a peer that does not serve one is
# a misconfigured cluster, answered by an error, never by a silent downgrade.
VERSIONS: dict[ApiKey, int] = {
    ApiKey.LEADER_AND_ISR: 4,  # topic states, broker epoch; v5+ needs topic ids
    ApiKey.UPDATE_METADATA: 6,  # topic states, broker epoch, offline replicas; v7 adds topic ids
    ApiKey.STOP_REPLICA: 3,  # per-partition leader epoch and delete flag
    ApiKey.CONTROLLED_SHUTDOWN: 3,  # broker epoch
    ApiKey.OFFSETS_FOR_LEADER_EPOCH: 4,  # replica id, current leader epoch
    ApiKey.FETCH: 12,  # the newest we serve: topic names, cluster id (tagged)
}

# StopReplica's leader epoch for a partition whose topic is being deleted: the broker
# stops it whatever epoch it is at (Kafka's LeaderAndIsr.EpochDuringDelete).
EPOCH_DURING_DELETE = -2
NO_EPOCH = -1

# Kafka's security protocol ids, as UpdateMetadata carries them.
PROTOCOL_IDS = {"PLAINTEXT": 0, "SSL": 1, "SASL_PLAINTEXT": 2, "SASL_SSL": 3}


@dataclass(frozen=True)
class Addressing:
    """Who sends a controller request, at which controller epoch, to which registration."""

    controller_id: int
    controller_epoch: int
    broker_epoch: int


def leader_and_isr(to: Addressing, cache: MetadataCache, partitions: list[tuple[str, int]]) -> m.LeaderAndIsrRequest:
    """LeaderAndIsr (v2+ layout) for `partitions`, as the cache holds them now."""
    topics: dict[str, list[m.LeaderAndIsrRequest.LeaderAndIsrPartitionState]] = {}
    leaders: set[int] = set()
    for topic, p in partitions:
        meta = cache.topics[topic]
        st = meta.states[p]
        topics.setdefault(topic, []).append(
            m.LeaderAndIsrRequest.LeaderAndIsrPartitionState(
                partition_index=p,
                controller_epoch=st.controller_epoch,
                leader=st.leader,
                leader_epoch=st.leader_epoch,
                isr=list(st.isr),
                partition_epoch=st.zk_version,
                replicas=list(meta.assignment[p]),
            )
        )
        leaders.add(st.leader)
    listener = cache.inter_broker.listener
    live = [
        (b, e) for b in sorted(leaders) if b in cache.brokers and (e := cache.brokers[b].endpoint(listener)) is not None
    ]
    return m.LeaderAndIsrRequest(
        controller_id=to.controller_id,
        controller_epoch=to.controller_epoch,
        broker_epoch=to.broker_epoch,
        topic_states=[
            m.LeaderAndIsrRequest.LeaderAndIsrTopicState(topic_name=t, partition_states=ps) for t, ps in topics.items()
        ],
        live_leaders=[
            m.LeaderAndIsrRequest.LeaderAndIsrLiveLeader(broker_id=b, host_name=e.host, port=e.port) for b, e in live
        ],
    )


def update_metadata(to: Addressing, cache: MetadataCache, partitions: list[tuple[str, int]]) -> m.UpdateMetadataRequest:
    """UpdateMetadata (v5+ layout): `partitions`' states and every live broker's endpoint."""
    topics: dict[str, list[m.UpdateMetadataRequest.UpdateMetadataPartitionState]] = {}
    for topic, p in partitions:
        meta = cache.topics[topic]
        st = meta.states[p]
        replicas = list(meta.assignment[p])
        topics.setdefault(topic, []).append(
            m.UpdateMetadataRequest.UpdateMetadataPartitionState(
                partition_index=p,
                controller_epoch=st.controller_epoch,
                leader=st.leader,
                leader_epoch=st.leader_epoch,
                isr=list(st.isr),
                zk_version=st.zk_version,
                replicas=replicas,
                offline_replicas=[r for r in replicas if r not in cache.brokers],
            )
        )
    return m.UpdateMetadataRequest(
        controller_id=to.controller_id,
        controller_epoch=to.controller_epoch,
        broker_epoch=to.broker_epoch,
        topic_states=[
            m.UpdateMetadataRequest.UpdateMetadataTopicState(topic_name=t, partition_states=ps)
            for t, ps in topics.items()
        ],
        live_brokers=[
            m.UpdateMetadataRequest.UpdateMetadataBroker(
                id=b.broker_id,
                rack=b.rack,
                endpoints=[
                    m.UpdateMetadataRequest.UpdateMetadataEndpoint(
                        host=e.host, port=e.port, listener=e.listener, security_protocol=PROTOCOL_IDS.get(e.protocol, 0)
                    )
                    for e in Z.all_endpoints(b)
                ],
            )
            for _, b in sorted(cache.brokers.items())
        ],
    )


def stop_replica(
    to: Addressing, partitions: list[tuple[str, int]], *, delete: bool, leader_epoch: int = EPOCH_DURING_DELETE
) -> m.StopReplicaRequest:
    """StopReplica (v3 layout) for `partitions`, each with `leader_epoch` and `delete`."""
    topics: dict[str, list[m.StopReplicaRequest.StopReplicaPartitionState]] = {}
    for topic, p in partitions:
        topics.setdefault(topic, []).append(
            m.StopReplicaRequest.StopReplicaPartitionState(
                partition_index=p, leader_epoch=leader_epoch, delete_partition=delete
            )
        )
    return m.StopReplicaRequest(
        controller_id=to.controller_id,
        controller_epoch=to.controller_epoch,
        broker_epoch=to.broker_epoch,
        delete_partitions=delete,
        topic_states=[
            m.StopReplicaRequest.StopReplicaTopicState(topic_name=t, partition_states=ps) for t, ps in topics.items()
        ],
    )


# -- reading them back (a broker serves every version, so each layout is read) -------------


def _grouped_states(body: Any, grouped: bool) -> Iterator[tuple[str, Any]]:
    """(topic, partition state) pairs from either layout: one flat list that names each
    partition's topic (older versions) or the states grouped under their topic."""
    if not grouped:
        for st in body.ungrouped_partition_states:
            yield st.topic_name, st
        return
    for topic in body.topic_states:
        for st in topic.partition_states:
            yield topic.topic_name, st


def leader_and_isr_states(
    body: m.LeaderAndIsrRequest, version: int
) -> Iterator[tuple[str, m.LeaderAndIsrRequest.LeaderAndIsrPartitionState]]:
    """(topic, partition state) of every partition in a LeaderAndIsr of `version` (grouped from v2)."""
    return _grouped_states(body, version >= 2)


def update_metadata_states(
    body: m.UpdateMetadataRequest, version: int
) -> Iterator[tuple[str, m.UpdateMetadataRequest.UpdateMetadataPartitionState]]:
    """(topic, partition state) of every partition in an UpdateMetadata of `version` (grouped from v5)."""
    return _grouped_states(body, version >= 5)


@dataclass(frozen=True)
class StopOrder:
    topic: str
    partition: int
    leader_epoch: int
    delete: bool


def stop_replica_orders(body: m.StopReplicaRequest, version: int) -> list[StopOrder]:
    """Every partition of a StopReplica of `version` (before v3: one delete flag, no epoch)."""
    if version == 0:
        return [
            StopOrder(p.topic_name, p.partition_index, NO_EPOCH, body.delete_partitions)
            for p in body.ungrouped_partitions
        ]
    if version < 3:
        return [
            StopOrder(t.name, p, NO_EPOCH, body.delete_partitions) for t in body.topics for p in t.partition_indexes
        ]
    return [
        StopOrder(t.topic_name, p.partition_index, p.leader_epoch, p.delete_partition)
        for t in body.topic_states
        for p in t.partition_states
    ]
