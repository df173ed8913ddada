"""The asyncio shell around the group core (broker/groups/shell.py) with an in-memory partition:
loading, refusals while loading and after resignation, real timers expiring sessions,
failed appends, acks=all ordering, and the offsets topic's partition rule."""

from __future__ import annotations

import asyncio

import pytest

from broker.groups import GroupConfig
from broker.groups.messages import (
    ErrorCode,
    GroupState,
    Heartbeat,
    JoinGroup,
    OffsetCommit,
    OffsetFetch,
    SyncGroup,
)
from broker.groups.offsets_topic import java_string_hash, partition_for
from broker.groups.records import OffsetAndMetadata, Record, decode_offset_value, offset_record
from broker.groups.shell import CoordinatorRefusedError, PartitionCoordinator

CONFIG = GroupConfig(min_session_timeout_ms=50, offsets_retention_ms=60_000)


class MemoryPartition:
    """A partition in memory: appends land at once, 'replication' ends when the test says."""

    leader_epoch = 3

    def __init__(self, records: list[Record] | None = None, *, auto_ack: bool = True) -> None:
        self.records = list(records or [])
        self.auto_ack = auto_ack
        self.waiting: list[asyncio.Future] = []
        self.refuse: Exception | None = None

    def read_records(self):
        return list(self.records)

    def append(self, records, now_ms):
        if self.refuse is not None:
            raise self.refuse
        self.records += records
        fut = asyncio.get_running_loop().create_future()
        if self.auto_ack:
            fut.set_result(None)
        else:
            self.waiting.append(fut)
        return fut


def join(member_id: str = "", session_ms: int = 200):
    return lambda rid: JoinGroup(rid, member_id, "consumer", (("range", b"s"),), session_ms, 5000, None, "c")


def commit(member_id: str, generation: int, offset: int):
    return lambda rid: OffsetCommit(rid, member_id, generation, ((("t", 0), OffsetAndMetadata(offset)),))


async def stable_member(shell: PartitionCoordinator, session_ms: int = 200) -> tuple[str, int]:
    joined = await shell.request("g", join(session_ms=session_ms))
    synced = await shell.request(
        "g", lambda rid: SyncGroup(rid, joined.member_id, joined.generation_id, ((joined.member_id, b"A"),))
    )
    assert synced.error is ErrorCode.NONE and synced.assignment == b"A"
    return joined.member_id, joined.generation_id


async def test_a_new_leader_loads_groups_and_offsets_from_the_log() -> None:
    first = PartitionCoordinator(0, MemoryPartition(), CONFIG)
    first.load()
    member, generation = await stable_member(first, session_ms=10_000)
    assert (await first.request("g", commit(member, generation, 42))).error is ErrorCode.NONE
    first.close()

    second = PartitionCoordinator(0, MemoryPartition(first.io.records), CONFIG)  # failover: same log
    assert second.load() == 1
    fetched = await second.request("g", lambda rid: OffsetFetch(rid, None))
    assert fetched.offsets == ((("t", 0), fetched.offsets[0][1]),) and fetched.offsets[0][1].offset == 42
    group = second.group("g")
    assert group is not None and group.state is GroupState.STABLE and group.coordinator_epoch == 3
    beat = await second.request("g", lambda rid: Heartbeat(rid, member, generation))
    assert beat.error is ErrorCode.NONE  # the member carries on
    second.close()


async def test_refusals_while_loading_and_after_resigning() -> None:
    shell = PartitionCoordinator(4, MemoryPartition(auto_ack=False), CONFIG)
    with pytest.raises(CoordinatorRefusedError) as loading:
        await shell.request("g", join())
    assert loading.value.code is ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
    shell.load()
    parked = asyncio.ensure_future(shell.request("g", commit("", -1, 7)))  # waits for 'replication'
    await asyncio.sleep(0.01)
    assert not parked.done()
    shell.close()
    with pytest.raises(CoordinatorRefusedError) as waiting:
        await parked
    assert waiting.value.code is ErrorCode.NOT_COORDINATOR
    with pytest.raises(CoordinatorRefusedError) as after:
        await shell.request("g", join())
    assert after.value.code is ErrorCode.NOT_COORDINATOR


async def test_commits_are_answered_only_once_replicated_and_in_append_order() -> None:
    io = MemoryPartition(auto_ack=False)
    shell = PartitionCoordinator(0, io, CONFIG)
    shell.load()
    first = asyncio.ensure_future(shell.request("g", commit("", -1, 1)))
    second = asyncio.ensure_future(shell.request("g", commit("", -1, 2)))
    await asyncio.sleep(0.01)
    assert [r.value is not None for r in io.records] == [True, True] and not first.done()
    for fut in io.waiting:
        fut.set_result(None)
    assert (await first).error is ErrorCode.NONE and (await second).error is ErrorCode.NONE
    fetched = await shell.request("g", lambda rid: OffsetFetch(rid, (("t", 0),)))
    assert fetched.offsets[0][1].offset == 2
    assert [decode_offset_value(r.value).offset for r in io.records] == [1, 2]  # in request order
    assert io.records[0].key == offset_record("g", "t", 0, None).key
    shell.close()


async def test_a_refused_append_becomes_not_coordinator() -> None:
    io = MemoryPartition()
    shell = PartitionCoordinator(0, io, CONFIG)
    shell.load()

    class NotLeaderError(Exception):
        code = ErrorCode.NOT_LEADER_OR_FOLLOWER

    io.refuse = NotLeaderError("moved")
    answer = await shell.request("g", commit("", -1, 5))
    assert answer.partitions == ((("t", 0), ErrorCode.NOT_COORDINATOR),)
    shell.close()


async def test_timers_expire_a_silent_member_and_empty_the_group() -> None:
    shell = PartitionCoordinator(0, MemoryPartition(), CONFIG)
    shell.load()
    await stable_member(shell, session_ms=60)
    group = shell.group("g")
    assert group is not None and group.state is GroupState.STABLE
    async with asyncio.timeout(10):
        while group.state is not GroupState.EMPTY:  # no heartbeat: the timer fires
            await asyncio.sleep(0.02)
    assert not group.members
    shell.close()


def test_the_group_partition_follows_java_string_hash_code() -> None:
    assert java_string_hash("") == 0
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("polygenelubricants") == -(2**31)  # abs() of it would overflow in Java
    assert partition_for("polygenelubricants", 10) == 0  # Kafka's Utils.abs: MIN -> 0
    assert java_string_hash("\U0001f600") == 0xD83D * 31 + 0xDE00  # UTF-16 code units
    assert partition_for("hello", 50) == 99162322 % 50
    assert all(0 <= partition_for(f"group-{i}", 7) < 7 for i in range(200))
    with pytest.raises(ValueError):
        partition_for("g", 0)
