"""The group handlers on Kafka's messages, in process: a real `GroupManager` over a real
offsets partition log, requests encoded and decoded at the version under test before the
handler sees them and responses encoded and decoded the same way after, so every answer
is one the codec can put on the wire at that version (no socket: the connection is
brokerwire's and tested there)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from broker.config import BrokerConfig
from broker.groups.manager import GroupManager
from broker.groups.offsets_topic import OFFSETS_TOPIC, partition_for
from broker.log import LogConfig, PartitionLog
from broker.metadata.cache import MetadataCache, TopicMetadata
from broker.metadata.znodes import BrokerInfo, PartitionState
from broker.server.handlers import groups as H
from broker.server.handlers import offsets as O
from broker.server.handlers.common import BrokerContext
from broker.server.partition import Partition
from client.consumer.group_protocol import decode_assignment, encode_assignment, encode_subscription
from client.protocol import messages as m
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader

PARTITIONS = 1
GROUP = "hg"
TOPIC = "data"


class Replicas:
    def __init__(self) -> None:
        self.partitions: dict[tuple[str, int], Partition] = {}


class Broker:
    """Calls a handler as dispatch would, through the codec at `version` both ways."""

    def __init__(self, ctx: BrokerContext) -> None:
        self.ctx = ctx

    async def call(self, handler: Any, request: Any, version: int, client_id: str | None = "cid") -> Any:
        spec = next(s for s in m.API_BY_KEY.values() if s.request is type(request))
        body = spec.request.decode(request.encode(version), version)
        reply = await handler(self.ctx, RequestHeader(spec.key, version, 1, client_id), body)
        return spec.response.decode(reply.body.encode(version), version)


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    cache = MetadataCache()
    cache.set_brokers({1: BrokerInfo(1, "127.0.0.1", 9092, None)})
    cache.set_topic(TopicMetadata(OFFSETS_TOPIC, {0: [1]}))
    cache.set_state(OFFSETS_TOPIC, 0, PartitionState(1, 0, (1,), 1))
    cache.set_topic(TopicMetadata(TOPIC, {0: [1], 1: [1]}))
    config = BrokerConfig(group_initial_rebalance_delay_ms=0, group_min_session_timeout_ms=10)
    replicas = Replicas()
    manager = GroupManager(config, cache, replicas, lambda t, p: None)
    plog = PartitionLog.open(tmp_path / f"{OFFSETS_TOPIC}-0", LogConfig())
    part = Partition(
        OFFSETS_TOPIC,
        0,
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
    replicas.partitions[(OFFSETS_TOPIC, 0)] = part
    manager.on_become_leader(OFFSETS_TOPIC, 0)
    async with asyncio.timeout(10):
        while manager.coordinators[0].loading:
            await asyncio.sleep(0.01)
    assert partition_for(GROUP, PARTITIONS) == 0
    try:
        yield Broker(BrokerContext(config, cache, None, replicas, None, groups=manager))
    finally:
        await manager.close()
        plog.close()


def join_request(member_id: str = "", instance: str | None = None, session: int = 5000) -> m.JoinGroupRequest:
    return m.JoinGroupRequest(
        group_id=GROUP,
        session_timeout_ms=session,
        rebalance_timeout_ms=5000,
        member_id=member_id,
        group_instance_id=instance,
        protocol_type="consumer",
        protocols=[m.JoinGroupRequest.JoinGroupRequestProtocol(name="range", metadata=encode_subscription([TOPIC]))],
    )


async def test_find_coordinator_at_every_version(broker: Broker) -> None:
    for version in range(4):
        r = await broker.call(H.find_coordinator, m.FindCoordinatorRequest(key=GROUP), version)
        assert (r.error_code, r.node_id, r.host, r.port) == (0, 1, "127.0.0.1", 9092)
    r = await broker.call(H.find_coordinator, m.FindCoordinatorRequest(key="tx", key_type=1), 1)
    assert r.error_code == ErrorCode.INVALID_REQUEST and r.node_id == -1 and r.error_message


@pytest.mark.parametrize("version", [0, 3, 4, 5, 7])
async def test_join_sync_heartbeat_leave(broker: Broker, version: int) -> None:
    sync_v, beat_v, leave_v = min(version, 5), min(version, 4), min(version, 4)
    join = await broker.call(H.join_group, join_request(), version)
    if version >= 4:  # KIP-394: the first join is told its id and rejoins with it
        assert join.error_code == ErrorCode.MEMBER_ID_REQUIRED and join.member_id.startswith("cid-")
        join = await broker.call(H.join_group, join_request(join.member_id), version)
    assert join.error_code == 0 and join.generation_id == 1 and join.leader == join.member_id
    assert join.protocol_name == "range" and [x.member_id for x in join.members] == [join.member_id]
    me, gen = join.member_id, join.generation_id
    sync = await broker.call(
        H.sync_group,
        m.SyncGroupRequest(
            group_id=GROUP,
            generation_id=gen,
            member_id=me,
            protocol_type="consumer",
            protocol_name="range",
            assignments=[
                m.SyncGroupRequest.SyncGroupRequestAssignment(
                    member_id=me, assignment=encode_assignment([(TOPIC, 0), (TOPIC, 1)])
                )
            ],
        ),
        sync_v,
    )
    assert sync.error_code == 0 and decode_assignment(sync.assignment) == [(TOPIC, 0), (TOPIC, 1)]
    beat = await broker.call(H.heartbeat, m.HeartbeatRequest(group_id=GROUP, generation_id=gen, member_id=me), beat_v)
    assert beat.error_code == 0
    stale = await broker.call(
        H.heartbeat, m.HeartbeatRequest(group_id=GROUP, generation_id=gen + 1, member_id=me), beat_v
    )
    assert stale.error_code == ErrorCode.ILLEGAL_GENERATION
    stranger = await broker.call(
        H.heartbeat, m.HeartbeatRequest(group_id=GROUP, generation_id=gen, member_id="nobody"), beat_v
    )
    assert stranger.error_code == ErrorCode.UNKNOWN_MEMBER_ID
    if leave_v >= 3:
        leave = await broker.call(
            H.leave_group,
            m.LeaveGroupRequest(
                group_id=GROUP,
                members=[
                    m.LeaveGroupRequest.MemberIdentity(member_id=me),
                    m.LeaveGroupRequest.MemberIdentity(member_id="x"),
                ],
            ),
            leave_v,
        )
        assert leave.error_code == 0
        assert [(x.member_id, x.error_code) for x in leave.members] == [(me, 0), ("x", ErrorCode.UNKNOWN_MEMBER_ID)]
    else:
        leave = await broker.call(H.leave_group, m.LeaveGroupRequest(group_id=GROUP, member_id=me), leave_v)
        assert leave.error_code == 0
        again = await broker.call(H.leave_group, m.LeaveGroupRequest(group_id=GROUP, member_id=me), leave_v)
        assert again.error_code == ErrorCode.UNKNOWN_MEMBER_ID
    listed = await broker.call(H.list_groups, m.ListGroupsRequest(), min(version, 4))
    assert [(g.group_id, g.protocol_type) for g in listed.groups] == [(GROUP, "consumer")]


async def test_an_empty_group_id_is_invalid(broker: Broker) -> None:
    join = m.JoinGroupRequest(group_id="", session_timeout_ms=5000, protocol_type="consumer")
    assert (await broker.call(H.join_group, join, 5)).error_code == ErrorCode.INVALID_GROUP_ID
    assert (await broker.call(H.heartbeat, m.HeartbeatRequest(group_id=""), 3)).error_code == ErrorCode.INVALID_GROUP_ID


async def test_sync_naming_another_protocol_is_inconsistent(broker: Broker) -> None:
    join = await broker.call(H.join_group, join_request(), 3)
    sync = await broker.call(
        H.sync_group,
        m.SyncGroupRequest(
            group_id=GROUP,
            generation_id=join.generation_id,
            member_id=join.member_id,
            protocol_type="consumer",
            protocol_name="roundrobin",
        ),
        5,
    )
    assert sync.error_code == ErrorCode.INCONSISTENT_GROUP_PROTOCOL


async def stable(broker: Broker) -> tuple[str, int]:
    join = await broker.call(H.join_group, join_request(), 3)
    me, gen = join.member_id, join.generation_id
    await broker.call(
        H.sync_group,
        m.SyncGroupRequest(
            group_id=GROUP,
            generation_id=gen,
            member_id=me,
            assignments=[
                m.SyncGroupRequest.SyncGroupRequestAssignment(member_id=me, assignment=encode_assignment([(TOPIC, 0)]))
            ],
        ),
        3,
    )
    return me, gen


async def test_describe_and_list_name_kafkas_states(broker: Broker) -> None:
    Request = m.DescribeGroupsRequest
    unknown = (await broker.call(H.describe_groups, Request(groups=["never-seen"]), 0)).groups[0]
    assert (unknown.error_code, unknown.group_state, unknown.members) == (0, "Dead", [])
    me, _ = await stable(broker)
    for version in range(6):
        d = (await broker.call(H.describe_groups, Request(groups=[GROUP]), version)).groups[0]
        assert (d.error_code, d.group_state, d.protocol_type, d.protocol_data) == (0, "Stable", "consumer", "range")
        assert [(x.member_id, x.client_id) for x in d.members] == [(me, "cid")]
        assert decode_assignment(d.members[0].member_assignment) == [(TOPIC, 0)]
    for version in range(5):
        listed = await broker.call(H.list_groups, m.ListGroupsRequest(states_filter=["stable"]), version)
        assert [(g.group_id, g.group_state if version >= 4 else "") for g in listed.groups] == [
            (GROUP, "Stable" if version >= 4 else "")
        ]
    empty = await broker.call(H.list_groups, m.ListGroupsRequest(states_filter=["Empty"]), 4)
    assert empty.groups == []


@pytest.mark.parametrize("version", [2, 5, 6, 7, 8])
async def test_offset_commit_and_fetch(broker: Broker, version: int) -> None:
    me, gen = await stable(broker)
    P = m.OffsetCommitRequest.OffsetCommitRequestPartition
    commit = m.OffsetCommitRequest(
        group_id=GROUP,
        generation_id_or_member_epoch=gen,
        member_id=me,
        topics=[
            m.OffsetCommitRequest.OffsetCommitRequestTopic(
                name=TOPIC,
                partitions=[
                    P(partition_index=0, committed_offset=42, committed_leader_epoch=3, committed_metadata="m"),
                    P(partition_index=1, committed_offset=7, committed_metadata=None),
                ],
            ),
            m.OffsetCommitRequest.OffsetCommitRequestTopic(
                name="no-such-topic", partitions=[P(partition_index=0, committed_offset=1)]
            ),
        ],
    )
    answer = await broker.call(O.offset_commit, commit, version)
    assert [(t.name, [(p.partition_index, p.error_code) for p in t.partitions]) for t in answer.topics] == [
        (TOPIC, [(0, 0), (1, 0)]),
        ("no-such-topic", [(0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)]),
    ]
    fetch_v = min(version, 7)
    T = m.OffsetFetchRequest.OffsetFetchRequestTopic
    fetched = await broker.call(
        O.offset_fetch,
        m.OffsetFetchRequest(group_id=GROUP, topics=[T(name=TOPIC, partition_indexes=[0, 1, 5])]),
        fetch_v,
    )
    rows = [
        (p.partition_index, p.committed_offset, p.committed_leader_epoch, p.metadata, p.error_code)
        for t in fetched.topics
        for p in t.partitions
    ]
    epoch = 3 if version >= 6 and fetch_v >= 5 else -1
    assert rows == [(0, 42, epoch, "m", 0), (1, 7, -1, "", 0), (5, -1, -1, "", 0)]
    everything = await broker.call(O.offset_fetch, m.OffsetFetchRequest(group_id=GROUP, topics=None), fetch_v)
    assert [(p.partition_index, p.committed_offset) for t in everything.topics for p in t.partitions] == [
        (0, 42),
        (1, 7),
    ]
    stale = commit
    stale.generation_id_or_member_epoch = gen + 5
    refused = await broker.call(O.offset_commit, stale, version)
    assert refused.topics[0].partitions[0].error_code == ErrorCode.ILLEGAL_GENERATION


async def test_offsets_on_a_broker_that_is_not_the_coordinator(broker: Broker) -> None:
    broker.ctx.groups.on_resign(OFFSETS_TOPIC, 0)
    T = m.OffsetFetchRequest.OffsetFetchRequestTopic
    request = m.OffsetFetchRequest(group_id=GROUP, topics=[T(name=TOPIC, partition_indexes=[0])])
    v1 = await broker.call(O.offset_fetch, request, 1)
    assert [p.error_code for t in v1.topics for p in t.partitions] == [ErrorCode.NOT_COORDINATOR]
    v7 = await broker.call(O.offset_fetch, request, 7)
    assert v7.error_code == ErrorCode.NOT_COORDINATOR and v7.topics == []
    join = await broker.call(H.join_group, join_request(), 7)
    assert join.error_code == ErrorCode.NOT_COORDINATOR and join.protocol_name is None
