"""`GroupManager`'s leadership hooks, the contract the replica manager (and replication) calls:
with a real `Partition` over a real `PartitionLog`, a group commits, the broker resigns
(waiting and new requests get NOT_COORDINATOR), becomes leader again at a higher epoch
(a failover onto the same log) and serves the same group and offsets, loaded from the log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from broker.config import BrokerConfig
from broker.groups.manager import GroupManager
from broker.groups.messages import ErrorCode, GroupState, Heartbeat, JoinGroup, OffsetCommit, OffsetFetch, SyncGroup
from broker.groups.offsets_topic import OFFSETS_TOPIC, partition_for
from broker.groups.records import OffsetAndMetadata
from broker.groups.shell import CoordinatorRefusedError
from broker.log import LogConfig, PartitionLog
from broker.metadata.cache import MetadataCache, TopicMetadata
from broker.metadata.znodes import BrokerInfo, PartitionState
from broker.server.partition import Partition

PARTITIONS = 3


class Replicas:
    """Just what the manager reads of a replica manager: the partitions led here."""

    def __init__(self) -> None:
        self.partitions: dict[tuple[str, int], Partition] = {}


def cluster() -> MetadataCache:
    cache = MetadataCache()
    cache.set_brokers({1: BrokerInfo(1, "127.0.0.1", 9092, None)})
    cache.set_topic(TopicMetadata(OFFSETS_TOPIC, {p: [1] for p in range(PARTITIONS)}))
    for p in range(PARTITIONS):
        cache.set_state(OFFSETS_TOPIC, p, PartitionState(1, 0, (1,), 1))
    return cache


async def wait_loaded(manager: GroupManager, partition: int) -> None:
    async with asyncio.timeout(10):
        while manager.coordinators[partition].loading:
            await asyncio.sleep(0.01)


async def test_resign_then_lead_again_at_a_higher_epoch_reloads_the_group(tmp_path: Path) -> None:
    config = BrokerConfig(group_initial_rebalance_delay_ms=0)
    replicas, appended = Replicas(), []
    manager = GroupManager(config, cluster(), replicas, lambda t, p: appended.append((t, p)))
    p = partition_for("g", PARTITIONS)
    plog = PartitionLog.open(tmp_path / f"{OFFSETS_TOPIC}-{p}", LogConfig())
    part = Partition(
        OFFSETS_TOPIC,
        p,
        1,
        plog,
        broker_epoch=0,
        high_watermark=0,
        min_insync_replicas=1,
        replica_lag_time_max_ms=30_000,
        propose_isr=lambda _p, _proposal: None,
        on_change=lambda: None,
    )
    part.become(leader=1, leader_epoch=0, isr=[1], replicas=[1], zk_version=0, broker_epoch=0, controller_epoch=1)
    replicas.partitions[(OFFSETS_TOPIC, p)] = part
    manager.on_become_leader(OFFSETS_TOPIC, p)
    manager.on_become_leader("some-topic", 0)  # other topics are ignored
    await wait_loaded(manager, p)

    join = await manager.request("g", lambda r: JoinGroup(r, "", "consumer", (("range", b"s"),), 10_000, 10_000))
    member, generation = join.member_id, join.generation_id
    await manager.request("g", lambda r: SyncGroup(r, member, generation, ((member, b"A"),)))
    commit = await manager.request(
        "g", lambda r: OffsetCommit(r, member, generation, ((("t", 0), OffsetAndMetadata(77)),))
    )
    assert commit.partitions == ((("t", 0), ErrorCode.NONE),) and appended
    assert manager.list_groups() == [("g", "consumer", GroupState.STABLE)]

    manager.on_resign(OFFSETS_TOPIC, p)
    with pytest.raises(CoordinatorRefusedError) as refused:
        await manager.request("g", lambda r: Heartbeat(r, member, generation))
    assert refused.value.code is ErrorCode.NOT_COORDINATOR

    part.become(
        leader=1, leader_epoch=1, isr=[1], replicas=[1], zk_version=1, broker_epoch=0, controller_epoch=2
    )  # failover onto the same log
    manager.on_become_leader(OFFSETS_TOPIC, p)
    await wait_loaded(manager, p)
    assert manager.coordinators[p].epoch == 1
    fetched = await manager.request("g", lambda r: OffsetFetch(r, None))
    assert [(tp, o.offset) for tp, o in fetched.offsets] == [(("t", 0), 77)]
    beat = await manager.request("g", lambda r: Heartbeat(r, member, generation))
    assert beat.error is ErrorCode.NONE  # the member never noticed
    assert (await manager.find_coordinator("g")).broker_id == 1
    await manager.close()
    plog.close()
