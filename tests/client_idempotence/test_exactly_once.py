"""Real processes: every record exactly once, in order, when the broker's answers are lost
after it wrote the batch, and across SIGKILL and clean restarts of the broker
(producer state rebuilt from the log, then from a snapshot)."""

from __future__ import annotations

import asyncio
import time

from client import AsyncAdmin, AsyncConsumer, AsyncProducer, NewTopic, TopicPartition
from client.protocol.record_batch import iter_batches
from tests.broker_server.wire import WireClient, fetch
from tests.support.node import bootstrap
from tests.support.waiting import wait_until_async

SETTINGS = dict(retry_backoff_ms=30, delivery_timeout_ms=90_000, request_timeout_ms=10_000, linger_ms=2)


async def read_all(bs: str, topic: str, partitions: int, expected: int) -> list:
    records = []
    async with AsyncConsumer(bs, auto_offset_reset="earliest", retry_backoff_ms=50) as consumer:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            records += await consumer.poll(timeout_ms=300)
            if len(records) >= expected and not await consumer.poll(timeout_ms=300):
                break
    return records


async def lost_answers(producer: AsyncProducer, proxy, topic: str, rounds: int, start: int) -> list:
    """One record per round whose answer the proxy swallows after the broker wrote it."""
    await producer.partitions_for(topic)  # the metadata answer must not be the one swallowed
    futures = []
    for i in range(start, start + rounds):
        dropped = proxy.replies_dropped
        proxy.drop_replies(1)
        futures.append(await producer.send(topic, b"lost-%d" % i, partition=0))
        async with asyncio.timeout(30):
            await futures[-1]
        assert proxy.replies_dropped == dropped + 1
        await producer.client.refresh_metadata()  # let the reconnect's refresh finish before the next cut
    return futures


async def create(bs: str, topic: str, partitions: int) -> None:
    async with AsyncAdmin(bs) as admin:
        await admin.create_topics([NewTopic(topic, partitions)])


async def test_answers_lost_after_the_write_leave_every_record_exactly_once_in_order(node, proxied) -> None:
    node.start()
    bs = bootstrap(node)
    await create(bs, "eo", 2)
    sent: list[tuple[int, bytes]] = []
    async with AsyncProducer(bs, batch_size=1024, **SETTINGS) as producer:  # ~40 records a batch
        assert producer.idempotent and producer.acks == -1  # the defaults
        futures = await lost_answers(producer, proxied, "eo", 5, 0)
        sent += [(0, b"lost-%d" % i) for i in range(5)]
        for burst in range(6):  # pipelined: up to 5 requests in flight
            for i in range(300):
                value = b"burst-%d-%d" % (burst, i)
                futures.append(await producer.send("eo", value, partition=i % 2))
                sent.append((i % 2, value))
                if i == 150:
                    proxied.drop_replies(1)
            async with asyncio.timeout(60):
                await asyncio.gather(*futures)
        assert proxied.replies_dropped >= 11
        metas = [f.result() for f in futures]
    records = await read_all(bs, "eo", 2, len(sent))
    for p in (0, 1):
        assert [r.value for r in records if r.partition == p] == [v for q, v in sent if q == p]
    at = {(r.partition, r.offset): r.value for r in records}
    assert [at[(m.partition, m.offset)] for m in metas] == [v for _, v in sent]  # duplicates got the first offset


async def test_without_idempotence_the_same_faults_write_duplicates(node, proxied) -> None:
    """The control: the fault really makes the producer resend a batch the broker wrote."""
    node.start()
    bs = bootstrap(node)
    await create(bs, "dup", 1)
    async with AsyncProducer(bs, enable_idempotence=False, **SETTINGS) as producer:
        assert not producer.idempotent
        await lost_answers(producer, proxied, "dup", 3, 0)
    records = await read_all(bs, "dup", 1, 6)
    assert [r.value for r in records] == [b"lost-0", b"lost-0", b"lost-1", b"lost-1", b"lost-2", b"lost-2"]


async def test_broker_restarts_keep_every_record_exactly_once(node, proxied) -> None:
    """A batch written but unanswered, then the broker is SIGKILLed (state rebuilt from the
    log) or stopped cleanly (from the snapshot it leaves); the retry is recognised."""
    node.start()
    bs = bootstrap(node)
    await create(bs, "rs", 1)
    expected: list[bytes] = []
    futures = []
    async with AsyncProducer(bs, **SETTINGS) as producer:
        for round_, restart in enumerate([node.kill, node.stop, node.kill]):
            for i in range(200):
                expected.append(b"r%d-%d" % (round_, i))
                futures.append(await producer.send("rs", expected[-1]))
            async with asyncio.timeout(60):
                await asyncio.gather(*futures)
            await producer.client.refresh_metadata()  # the next answer on the wire is a Produce answer
            dropped = proxied.replies_dropped
            proxied.drop_replies(1, then_cut=True)  # the retries can only reach the restarted broker
            for i in range(50):  # in flight behind it: written, answers lost too
                expected.append(b"r%d-cut-%d" % (round_, i))
                futures.append(await producer.send("rs", expected[-1]))
            await wait_until_async(
                "the answer to be swallowed", lambda dropped=dropped: proxied.replies_dropped > dropped, 20
            )
            restart()
            if restart == node.stop:
                assert list(node.data_dir.rglob("rs-0/*.snapshot")), "a clean stop leaves a producer snapshot"
            node.start()
            proxied.heal()
            async with asyncio.timeout(60):
                await asyncio.gather(*futures)
        metas = [f.result() for f in futures]
    loads = [line for line in node.log().splitlines() if "producer state of 1 producer(s) loaded" in line]
    assert len(loads) == 3 and "snapshot at none" not in loads[1], loads  # rebuilt after each restart
    records = await read_all(bs, "rs", 1, len(expected))
    assert [r.value for r in records] == expected
    assert [m.offset for m in metas] == list(range(len(expected)))


async def test_a_broker_that_lost_the_producer_makes_it_start_again_under_a_new_id(node) -> None:
    """The topic is deleted and created again under the producer: the new log does not know
    it (UNKNOWN_PRODUCER_ID); it takes a new producer id and numbers from 0 again."""
    node.start()
    bs = bootstrap(node)
    await create(bs, "again", 1)
    async with AsyncProducer(bs, **SETTINGS) as producer:
        for i in range(10):
            await producer.send_and_wait("again", b"old-%d" % i)
        first_id = producer._sender.idempotence.producer_id
        async with AsyncAdmin(bs) as admin:
            await admin.delete_topics(["again"])
            async with asyncio.timeout(30):  # until the brokers have dropped it
                while "again" in await admin.list_topics():
                    await asyncio.sleep(0.05)
            await create(bs, "again", 1)
        async with asyncio.timeout(60):
            metas = [await producer.send_and_wait("again", b"new-%d" % i) for i in range(10)]
        assert producer._sender.idempotence.producer_id != first_id
    assert [m.offset for m in metas] == list(range(10))
    records = await read_all(bs, "again", 1, 10)
    assert [r.value for r in records] == [b"new-%d" % i for i in range(10)]


async def test_a_batch_refused_as_too_large_is_split_and_its_halves_keep_the_sequence(node) -> None:
    node.start()
    bs = bootstrap(node)
    async with AsyncAdmin(bs) as admin:
        await admin.create_topics([NewTopic("small", 1, 1, {"max.message.bytes": "1500"})])
    async with AsyncProducer(bs, batch_size=65536, **{**SETTINGS, "linger_ms": 50}) as producer:
        futures = [await producer.send("small", b"%03d" % i + b"x" * 97) for i in range(60)]
        async with asyncio.timeout(30):
            metas = await asyncio.gather(*futures)
        futures = [await producer.send("small", b"after-%d" % i) for i in range(5)]  # sequences go on
        async with asyncio.timeout(30):
            metas += await asyncio.gather(*futures)
    expected = [b"%03d" % i + b"x" * 97 for i in range(60)] + [b"after-%d" % i for i in range(5)]
    assert [m.offset for m in metas] == list(range(65))
    records = await read_all(bs, "small", 1, 65)
    assert [r.value for r in records] == expected
    with WireClient(node.broker_port) as wire:
        _, tail = fetch(wire, "small", 0, 0, max_bytes=1 << 20)
    headers = list(iter_batches(tail))
    assert len(headers) >= 5 and all(h.size <= 1500 for h in headers)  # it was split
    assert [h.base_sequence for h in headers] == [h.base_offset for h in headers]  # numbered as offsets
