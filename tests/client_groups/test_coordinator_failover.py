"""SIGKILL the group coordinator's broker mid-stream (3 brokers, `__consumer_offsets` RF 3).

A group member reads a replicated topic and commits after every batch. The broker that
leads the group's offsets partition is killed; the member finds the new coordinator
(the next leader of that partition, which loaded the group from its replica of the log)
and its commits go on. No acknowledged commit is lost: right after the failover the group
still has at least the last offsets acknowledged before the kill, and at the end it has
committed every record's offset.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from broker.groups.offsets_topic import partition_for
from client import AsyncAdmin, AsyncConsumer, AsyncProducer, NewTopic, TopicPartition
from client.errors import CommitFailedError
from tests.broker_cluster.cluster import start_cluster
from tests.support.procs import ProcessGroup
from tests.support.waiting import wait_until

pytestmark = pytest.mark.cluster

CONFIG = (
    '"offsets.topic.num.partitions" = 3\n"group.initial.rebalance.delay.ms" = 0\n'
    '"group.min.session.timeout.ms" = 2000\n'
)
PARTITIONS = 3


async def produce(bootstrap: str, numbers: range) -> None:
    async with AsyncProducer(bootstrap, acks="all", request_timeout_ms=5000, retry_backoff_ms=100) as producer:
        for i in numbers:
            await producer.send("data", b"%d" % i, partition=i % PARTITIONS)
        await producer.flush()


class Member:
    """Reads and commits after every batch; remembers what the group acknowledged."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AsyncConsumer(
            bootstrap,
            group_id="failover",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=300,
            request_timeout_ms=10_000,
            metadata_max_age_ms=1000,
        )
        self.seen: set[tuple[int, int]] = set()
        self.acked: dict[TopicPartition, int] = {}

    async def step(self) -> None:
        records = await self.consumer.poll(timeout_ms=200)
        self.seen.update((r.partition, r.offset) for r in records)
        if records:
            positions = {tp: await self.consumer.position(tp) for tp in self.consumer.assignment()}
            try:
                await self.consumer.commit(positions)
            except CommitFailedError:
                return  # the group rebalanced: the next poll rejoins, then commits again
            self.acked.update(positions)


async def test_commits_continue_after_the_coordinator_broker_is_killed(procs: ProcessGroup, tmp_path: Path) -> None:
    cluster = start_cluster(procs, tmp_path, 3, extra_config=CONFIG)
    try:
        bs = cluster.bootstrap
        wait_until("a controller", cluster.controller)
        async with AsyncAdmin(bs) as admin:
            await admin.create_topics([NewTopic("data", PARTITIONS, 3)])
        await produce(bs, range(300))
        member = Member(bs)
        await member.consumer.start()
        member.consumer.subscribe(["data"])
        async with asyncio.timeout(60):
            while len(member.seen) < 300 or sum(member.acked.values()) < 300:
                await member.step()
        async with AsyncAdmin(bs) as admin:
            coordinator = (await admin.describe_groups(["failover"]))[0].coordinator
        offsets_state = cluster.state("__consumer_offsets", partition_for("failover", 3))
        assert offsets_state["leader"] == coordinator and len(offsets_state["isr"]) == 3

        before_kill = dict(member.acked)
        procs.kill(f"broker{coordinator}")  # the coordinator dies
        async with asyncio.timeout(60):  # asked of the new coordinator
            recovered = {tp: await member.consumer.committed(tp) for tp in before_kill}
        assert recovered == before_kill  # nothing acknowledged was lost
        survivors = ",".join(f"127.0.0.1:{p}" for i, p in cluster.ports.items() if i != coordinator)
        await produce(survivors, range(300, 600))
        async with asyncio.timeout(90):
            while len(member.seen) < 600 or sum(member.acked.values()) < 600:
                await member.step()
        async with AsyncAdmin(survivors) as admin:
            after = (await admin.describe_groups(["failover"]))[0]
            committed = await admin.list_group_offsets("failover")
        assert after.coordinator != coordinator
        assert committed == {TopicPartition("data", p): 200 for p in range(PARTITIONS)}
        assert member.seen == {(p, o) for p in range(PARTITIONS) for o in range(200)}
        await member.consumer.close()
    finally:
        cluster.close()
