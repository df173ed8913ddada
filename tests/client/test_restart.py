"""The client across broker failures: SIGKILL + restart, and a broker that stops answering."""

from __future__ import annotations

import asyncio

import pytest

from client import AsyncAdmin, AsyncConsumer, AsyncProducer, NewTopic, TopicPartition
from client.errors import ClientTimeoutError
from tests.support.node import bootstrap


async def test_producer_and_consumer_keep_working_after_the_broker_is_killed_and_restarted(node) -> None:
    node.start()
    bs = bootstrap(node)
    async with AsyncAdmin(bs) as admin:
        await admin.create_topics([NewTopic("restart", 2)])
    tps = [TopicPartition("restart", 0), TopicPartition("restart", 1)]
    async with (
        AsyncProducer(bs, retry_backoff_ms=50, delivery_timeout_ms=60_000) as producer,
        AsyncConsumer(bs, auto_offset_reset="earliest", retry_backoff_ms=50) as consumer,
    ):
        consumer.assign(tps)
        before = [await producer.send("restart", b"before-%d" % i) for i in range(100)]
        await producer.flush()
        assert all(f.result().offset >= 0 for f in before)
        values = await read_values(consumer, 100)
        node.kill()
        during = [await producer.send("restart", b"after-%d" % i) for i in range(100)]
        assert await consumer.poll(timeout_ms=300) == []  # the consumer meets the dead broker too
        node.start()
        async with asyncio.timeout(45):
            metas = [await f for f in during]
        assert all(m.offset >= 0 for m in metas)
        values += await read_values(consumer, 100)
    assert sorted(values) == sorted([b"before-%d" % i for i in range(100)] + [b"after-%d" % i for i in range(100)])


async def read_values(consumer: AsyncConsumer, n: int) -> list[bytes]:
    values: list[bytes] = []
    async with asyncio.timeout(30):
        while len(values) < n:
            values.extend(r.value for r in await consumer.poll(timeout_ms=500))
    return values


async def test_a_silent_broker_fails_deliveries_with_a_timeout(node, procs) -> None:
    node.start()
    bs = bootstrap(node)
    async with AsyncAdmin(bs) as admin:
        await admin.create_topics([NewTopic("silent", 1)])
    producer = AsyncProducer(bs, request_timeout_ms=500, delivery_timeout_ms=1500, retry_backoff_ms=50)
    await producer.start()
    try:
        await producer.send_and_wait("silent", b"ok")
        procs.pause(node.name)
        future = await producer.send("silent", b"lost")
        with pytest.raises(ClientTimeoutError):
            await asyncio.wait_for(future, 20)
    finally:
        procs.resume(node.name)
        await producer.close(timeout_ms=5000)
