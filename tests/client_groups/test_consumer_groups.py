"""The group consumer's API against a real node, in-process: assignors, pattern subscription,
auto-commit, commit/commit_async/committed, auto_offset_reset, rebalance callbacks,
max_poll_interval_ms, manual assignment with a group, the sync facade."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from client import AsyncAdmin, AsyncConsumer, AsyncProducer, Consumer, NewTopic, TopicPartition
from client.errors import IllegalStateError, NoOffsetForPartitionError

_ids = itertools.count()
FAST = dict(session_timeout_ms=6000, heartbeat_interval_ms=300, auto_offset_reset="earliest")


@pytest.fixture
def bs(shared_group_node) -> str:
    return f"127.0.0.1:{shared_group_node.broker_port}"


async def make_topic(bs: str, partitions: int, records: int = 0, prefix: str = "t") -> str:
    name = f"{prefix}{next(_ids)}"
    async with AsyncAdmin(bs) as admin:
        await admin.create_topics([NewTopic(name, partitions)])
    if records:
        async with AsyncProducer(bs) as producer:
            for i in range(records):
                await producer.send(name, b"%d" % i, partition=i % partitions)
            await producer.flush()
    return name


async def poll_until(consumers, condition, timeout: float = 30) -> list:
    got = []
    async with asyncio.timeout(timeout):
        while not condition(got):
            for c in consumers:
                got += await c.poll(timeout_ms=100)
    return got


async def test_round_robin_over_a_pattern_subscription(bs) -> None:
    a = await make_topic(bs, 3, 30, prefix="rr-")
    b = await make_topic(bs, 3, 30, prefix="rr-")
    group = f"g{next(_ids)}"
    consumers = [
        AsyncConsumer(bs, group_id=group, partition_assignment_strategy="roundrobin", **FAST) for _ in range(2)
    ]
    for c in consumers:
        await c.start()
        c.subscribe(pattern=r"rr-.*")
    try:
        got = await poll_until(
            consumers, lambda got: len(got) >= 60 and all(len(c.assignment()) == 3 for c in consumers)
        )
        assert {(r.topic, r.partition, r.offset) for r in got} >= {
            (t, p, o) for t in (a, b) for p in range(3) for o in range(10)
        }
        assert consumers[0].assignment() | consumers[1].assignment() == {
            TopicPartition(t, p) for t in (a, b) for p in range(3)
        }
        async with AsyncAdmin(bs) as admin:
            described = (await admin.describe_groups([group]))[0]
        assert described.protocol == "roundrobin" and described.state == "Stable"
    finally:
        for c in consumers:
            await c.close()


async def test_auto_commit_and_committed(bs) -> None:
    topic = await make_topic(bs, 1, 20)
    group = f"g{next(_ids)}"
    tp = TopicPartition(topic, 0)
    async with AsyncConsumer(bs, group_id=group, auto_commit_interval_ms=100, **FAST) as consumer:
        consumer.subscribe([topic])
        await poll_until([consumer], lambda got: len(got) >= 20)
        await asyncio.sleep(0.2)
        await consumer.poll(timeout_ms=100)  # auto-commit happens inside poll
        async with asyncio.timeout(20):
            while await consumer.committed(tp) != 20:
                await asyncio.sleep(0.1)
    async with AsyncConsumer(bs, group_id=group, enable_auto_commit=False, **FAST) as again:
        assert await again.committed(tp) == 20


async def test_commit_async_callback_and_explicit_offsets(bs) -> None:
    topic = await make_topic(bs, 2, 10)
    async with AsyncConsumer(bs, group_id=f"g{next(_ids)}", enable_auto_commit=False, **FAST) as consumer:
        consumer.subscribe([topic])
        await poll_until([consumer], lambda got: len(got) >= 10)
        done = asyncio.get_running_loop().create_future()
        consumer.commit_async(callback=lambda offsets, exc: done.set_result((offsets, exc)))
        offsets, exc = await asyncio.wait_for(done, 20)
        assert exc is None and offsets == {TopicPartition(topic, 0): 5, TopicPartition(topic, 1): 5}
        await consumer.commit({TopicPartition(topic, 1): 2})
        assert await consumer.committed(TopicPartition(topic, 0)) == 5
        assert await consumer.committed(TopicPartition(topic, 1)) == 2


async def test_auto_offset_reset_none_and_latest_without_a_commit(bs) -> None:
    topic = await make_topic(bs, 1, 5)
    async with AsyncConsumer(bs, group_id=f"g{next(_ids)}", **{**FAST, "auto_offset_reset": "none"}) as consumer:
        consumer.subscribe([topic])
        with pytest.raises(NoOffsetForPartitionError):
            async with asyncio.timeout(30):
                while True:
                    await consumer.poll(timeout_ms=200)
    async with AsyncConsumer(bs, group_id=f"g{next(_ids)}", **{**FAST, "auto_offset_reset": "latest"}) as consumer:
        consumer.subscribe([topic])
        async with asyncio.timeout(30):
            while not consumer.assignment():
                assert await consumer.poll(timeout_ms=200) == []
        assert await consumer.position(TopicPartition(topic, 0)) == 5


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, set]] = []

    def on_partitions_revoked(self, partitions: set) -> None:
        self.events.append(("revoked", {tp.partition for tp in partitions}))

    async def on_partitions_assigned(self, partitions: set) -> None:
        self.events.append(("assigned", {tp.partition for tp in partitions}))


async def test_rebalance_callbacks_when_a_member_joins_and_leaves(bs) -> None:
    topic = await make_topic(bs, 4, 8)
    group = f"g{next(_ids)}"
    first, recorder = AsyncConsumer(bs, group_id=group, **FAST), Recorder()
    await first.start()
    try:
        first.subscribe([topic], listener=recorder)
        await poll_until([first], lambda got: len(recorder.events) == 1)
        async with AsyncConsumer(bs, group_id=group, **FAST) as second:
            second.subscribe([topic])
            await poll_until([first, second], lambda got: len(recorder.events) == 3 and len(second.assignment()) == 2)
        await poll_until([first], lambda got: len(recorder.events) == 5)  # second left: all back
        assert recorder.events == [
            ("assigned", {0, 1, 2, 3}),
            ("revoked", {0, 1, 2, 3}),
            ("assigned", {0, 1}),
            ("revoked", {0, 1}),
            ("assigned", {0, 1, 2, 3}),
        ]
    finally:
        await first.close()


async def test_a_member_that_stops_polling_loses_its_partitions(bs) -> None:
    topic = await make_topic(bs, 2)
    group = f"g{next(_ids)}"
    slow = AsyncConsumer(bs, group_id=group, max_poll_interval_ms=1500, **FAST)
    busy = AsyncConsumer(bs, group_id=group, max_poll_interval_ms=1500, **FAST)
    for c in (slow, busy):
        await c.start()
        c.subscribe([topic])
    try:
        await poll_until([slow, busy], lambda got: len(slow.assignment()) == 1 and len(busy.assignment()) == 1)
        await poll_until([busy], lambda got: len(busy.assignment()) == 2)  # slow stopped polling
    finally:
        for c in (slow, busy):
            await c.close()


async def test_manual_assignment_commits_into_the_group(bs) -> None:
    topic = await make_topic(bs, 1, 3)
    tp = TopicPartition(topic, 0)
    async with AsyncConsumer(bs, group_id=f"g{next(_ids)}", enable_auto_commit=False, **FAST) as consumer:
        consumer.assign([tp])
        await poll_until([consumer], lambda got: len(got) >= 3)
        await consumer.commit()
        assert await consumer.committed(tp) == 3
        with pytest.raises(IllegalStateError):
            consumer.subscribe([topic])


def test_the_sync_facade_joins_commits_and_reads_committed(bs) -> None:
    topic = asyncio.run(make_topic(bs, 2, 6))
    with Consumer(bs, group_id=f"g{next(_ids)}", enable_auto_commit=False, **FAST) as consumer:
        consumer.subscribe([topic])
        got = []
        for _ in range(150):
            got += consumer.poll(timeout_ms=200)
            if len(got) >= 6:
                break
        assert len(got) == 6
        consumer.commit()
        assert consumer.commit_async().result(timeout=20) is None
        assert consumer.committed(TopicPartition(topic, 1)) == 3
