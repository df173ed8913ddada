"""The group core measures member timeouts on the monotonic clock (`step`'s `now_ms`) and
stamps what users see (commit timestamps, the group's state timestamp, offsets
retention) with the wall clock (`wall_ms`): a wall-clock step in either direction neither
expires live members nor keeps dead ones. Both clocks are passed in (sans-I/O)."""

from __future__ import annotations

import asyncio
import time

from broker.groups.messages import ErrorCode, GroupState, Heartbeat, MemberIdentity, OffsetCommit
from broker.groups.records import OffsetAndMetadata
from broker.groups.shell import PartitionCoordinator
from tests.broker_groups.helpers import Driver
from tests.broker_groups.test_shell import CONFIG, MemoryPartition, stable_member

HOUR = 3600_000
WALL = 1_700_000_000_000


def _stable(d: Driver) -> str:
    d.wall_offset_ms = WALL
    (member,) = d.stable_group(1, session=1000)
    assert d.group.state is GroupState.STABLE
    return member


def test_a_forward_wall_step_expires_no_live_member() -> None:
    d = Driver()
    member = _stable(d)
    d.wall_offset_ms += HOUR
    for _ in range(5):  # heartbeats well within the session timeout
        d.advance(400)
        assert d.heartbeat(member, d.group.generation_id) is ErrorCode.NONE
    assert list(d.group.members) == [member]


def test_a_backward_wall_step_still_expires_a_silent_member_on_time() -> None:
    d = Driver()
    member = _stable(d)
    d.wall_offset_ms -= HOUR
    assert d.scheduled is not None and d.scheduled <= d.now_ms + 1000
    d.advance(1001)
    assert member not in d.group.members


def test_commit_timestamps_and_offsets_retention_use_the_wall_clock() -> None:
    d = Driver()
    member = _stable(d)
    gen = d.group.generation_id
    d.commit(member, gen, {("t", 0): 5})
    assert d.group.offsets[("t", 0)].commit_timestamp_ms == d.now_ms + WALL
    d.leave(MemberIdentity(member))
    assert d.group.state is GroupState.EMPTY
    retention = d.group.config.offsets_retention_ms
    d.advance(1)
    assert d.group.offsets != {}
    d.wall_offset_ms += retention  # the wall clock says a week passed
    d.advance(1)
    assert d.group.offsets == {}


async def test_the_shell_times_sessions_on_its_monotonic_clock_whatever_the_wall_clock_does() -> None:
    wall = [WALL]
    shell = PartitionCoordinator(0, MemoryPartition(), CONFIG, wall_clock=lambda: wall[0])
    shell.load()
    member, gen = await stable_member(shell, session_ms=300)
    wall[0] += HOUR  # the system clock is set an hour ahead
    for _ in range(8):  # 0.8 s of heartbeats every 0.1 s: never expired
        await asyncio.sleep(0.1)
        beat = await shell.request("g", lambda rid: Heartbeat(rid, member, gen, None))
        assert beat.error is ErrorCode.NONE
    committed = await shell.request(
        "g", lambda rid: OffsetCommit(rid, member, gen, ((("t", 0), OffsetAndMetadata(1)),))
    )
    assert committed.partitions[0][1] is ErrorCode.NONE
    assert shell.groups["g"].offsets[("t", 0)].commit_timestamp_ms == WALL + HOUR
    wall[0] -= 2 * HOUR  # and then an hour behind: a silent member still expires on time
    started = time.monotonic()
    while member in shell.groups["g"].members:
        assert time.monotonic() - started < 3, "a silent member outlived its session timeout by far"
        await asyncio.sleep(0.05)
