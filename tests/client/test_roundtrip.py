"""Producer, consumer and admin against a real `pybroker start` node (asyncio API)."""

from __future__ import annotations

import asyncio

import pytest

from client import AsyncAdmin, AsyncConsumer, AsyncProducer, NewTopic, RecordMetadata, TopicPartition
from client.errors import (
    IllegalStateError,
    MessageTooLargeError,
    RecordTooLargeError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
)
from tests.support.node import bootstrap


async def consume_all(bs: str, topic: str, partitions: list[int], n: int, timeout: float = 20) -> list:
    async with AsyncConsumer(bs, auto_offset_reset="earliest") as consumer:
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        out: list = []
        async with asyncio.timeout(timeout):
            while len(out) < n:
                out.extend(await consumer.poll(timeout_ms=500))
        assert await consumer.poll(timeout_ms=200) == []  # nothing beyond what was produced
        return out


async def test_round_trip_keys_headers_none_values_and_timestamps(shared_node, new_topic) -> None:
    bs, topic = bootstrap(shared_node), new_topic()
    sent = [(b"k1", b"v1", [("h", b"x")]), (None, b"v2", None), (b"k3", None, [("a", b"1"), ("b", b"")])]
    async with AsyncProducer(bs, linger_ms=1) as producer:
        futures = [
            await producer.send(topic, v, key=k, headers=h, timestamp_ms=1000 + i) for i, (k, v, h) in enumerate(sent)
        ]
        metas = [await f for f in futures]
    assert metas == [RecordMetadata(topic, 0, i, 1000 + i) for i in range(3)]
    records = await consume_all(bs, topic, [0], 3)
    assert [(r.offset, r.timestamp, r.key, r.value) for r in records] == [
        (i, 1000 + i, k, v) for i, (k, v, _) in enumerate(sent)
    ]
    assert [[tuple(h) for h in r.headers or []] for r in records] == [h or [] for _, _, h in sent]
    assert all(r.topic == topic and r.partition == 0 for r in records)


async def test_many_partitions_keep_order_and_keys_stay_on_their_partition(shared_node, new_topic) -> None:
    bs, topic = bootstrap(shared_node), new_topic(partitions=6)
    async with AsyncProducer(bs, batch_size=2048) as producer:
        futures = [await producer.send(topic, b"%d" % i, key=b"key-%d" % (i % 20)) for i in range(3000)]
        await producer.flush()
    metas = [f.result() for f in futures]
    records = await consume_all(bs, topic, list(range(6)), 3000)
    by_partition: dict[int, list[int]] = {}
    for r in records:
        by_partition.setdefault(r.partition, []).append(int(r.value))
    assert len(by_partition) > 1
    for values in by_partition.values():
        assert values == sorted(values)  # per-partition order is send order
    partition_of_key: dict[bytes, int] = {}
    for r in records:
        assert partition_of_key.setdefault(r.key, r.partition) == r.partition
    assert {(m.partition, m.offset) for m in metas} == {(r.partition, r.offset) for r in records}


@pytest.mark.parametrize("acks", [0, 1, "all"])
async def test_acks(shared_node, new_topic, acks) -> None:
    bs, topic = bootstrap(shared_node), new_topic()
    async with AsyncProducer(bs, acks=acks) as producer:
        futures = [await producer.send(topic, b"v%d" % i) for i in range(200)]
        await producer.flush()
    offsets = [f.result().offset for f in futures]
    assert offsets == ([-1] * 200 if acks == 0 else list(range(200)))
    assert [r.value for r in await consume_all(bs, topic, [0], 200)] == [b"v%d" % i for i in range(200)]


async def test_seek_position_pause_resume_and_offsets(shared_node, new_topic) -> None:
    bs, topic = bootstrap(shared_node), new_topic(partitions=2)
    tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    async with AsyncProducer(bs) as producer:
        for i in range(10):
            await producer.send(topic, b"a%d" % i, partition=0)
            await producer.send(topic, b"b%d" % i, partition=1)
        await producer.flush()
    async with AsyncConsumer(bs, auto_offset_reset="latest") as consumer:
        consumer.assign([tp0, tp1])
        assert await consumer.position(tp0) == 10
        assert await consumer.beginning_offsets([tp0]) == {tp0: 0}
        assert await consumer.end_offsets([tp0, tp1]) == {tp0: 10, tp1: 10}
        consumer.seek(tp0, 7)
        consumer.seek_to_beginning(tp1)
        assert await consumer.position(tp1) == 0
        consumer.pause(tp1)
        got = await poll_until(consumer, 3)
        assert [(r.partition, r.offset) for r in got] == [(0, 7), (0, 8), (0, 9)]
        assert await consumer.poll(timeout_ms=200) == []  # tp1 paused
        consumer.resume(tp1)
        got = await poll_until(consumer, 10)
        assert [r.value for r in got] == [b"b%d" % i for i in range(10)]
        assert await consumer.position(tp1) == 10
        consumer.seek_to_end()
        assert await consumer.position(tp0) == 10
        consumer.seek(tp0, 2)  # seeking back after the data was read re-reads it
        assert [r.offset for r in await poll_until(consumer, 8)] == list(range(2, 10))
        with pytest.raises(IllegalStateError):
            consumer.seek(TopicPartition(topic, 5), 0)


async def poll_until(consumer: AsyncConsumer, n: int) -> list:
    out: list = []
    async with asyncio.timeout(10):
        while len(out) < n:
            out.extend(await consumer.poll(timeout_ms=500, max_records=n - len(out)))
    return out


async def test_poll_returns_at_most_max_records_and_async_for_iterates(shared_node, new_topic) -> None:
    bs, topic = bootstrap(shared_node), new_topic()
    async with AsyncProducer(bs) as producer:
        for i in range(50):
            await producer.send(topic, b"%d" % i)
    async with AsyncConsumer(bs, auto_offset_reset="earliest") as consumer:
        consumer.assign([TopicPartition(topic, 0)])
        first = await poll_until(consumer, 1)
        assert len(await consumer.poll(timeout_ms=1000, max_records=7)) <= 7
        seen = [first[0].offset]
        async with asyncio.timeout(10):
            async for record in consumer:
                seen.append(record.offset)
                if record.offset == 49:
                    break
        assert seen[0] == 0 and seen[-1] == 49 and seen == sorted(seen)


async def test_unknown_topic_is_a_clear_error(shared_node) -> None:
    bs = bootstrap(shared_node)
    async with AsyncProducer(bs, max_block_ms=500) as producer:
        with pytest.raises(UnknownTopicOrPartitionError, match="no-such-topic"):
            await producer.send("no-such-topic", b"v")
    async with AsyncConsumer(bs) as consumer:
        consumer.assign([TopicPartition("no-such-topic", 0)])
        with pytest.raises(UnknownTopicOrPartitionError):
            await consumer.poll(timeout_ms=500)


async def test_too_large_records_are_refused_clearly(shared_node, new_topic) -> None:
    bs = bootstrap(shared_node)
    topic = new_topic(configs={"max.message.bytes": "2000"})
    async with AsyncProducer(bs, max_request_size=10_000, batch_size=100_000) as producer:
        with pytest.raises(RecordTooLargeError, match="max_request_size"):
            await producer.send(topic, b"x" * 20_000)
        with pytest.raises(MessageTooLargeError):
            await producer.send_and_wait(topic, b"x" * 5000)
        assert (await producer.send_and_wait(topic, b"small")).offset >= 0
        # Many small records in one batch above max.message.bytes: split until they fit.
        futures = [await producer.send(topic, b"%03d" % i + b"y" * 297) for i in range(40)]
        offsets = [(await f).offset for f in futures]
        assert offsets == sorted(set(offsets)) and len(offsets) == 40


async def test_admin_create_list_describe_delete(shared_node) -> None:
    bs = bootstrap(shared_node)
    async with AsyncAdmin(bs) as admin:
        await admin.create_topics([NewTopic("admin-a", 3), NewTopic("admin-b", 1, 1, {"retention.ms": "60000"})])
        with pytest.raises(TopicAlreadyExistsError):
            await admin.create_topics([NewTopic("admin-a", 3)])
        assert {"admin-a", "admin-b"} <= set(await admin.list_topics())
        [desc] = await admin.describe_topics(["admin-a"])
        assert [p.partition for p in desc.partitions] == [0, 1, 2]
        assert all(p.leader >= 0 and p.isr == p.replicas for p in desc.partitions)
        cluster = await admin.describe_cluster()
        assert len(cluster.brokers) == 1 and cluster.brokers[0].port == shared_node.broker_port
        await admin.delete_topics(["admin-b"])
        with pytest.raises(UnknownTopicOrPartitionError):
            await admin.describe_topics(["admin-b"])
