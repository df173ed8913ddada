"""aiokafka as a writer and a reader of records, for the cross-client tests.

Each call runs its own event loop (asyncio.run), so a synchronous test drives it like
the other clients. It must never import anything beyond aiokafka and
tests.kafka_clients.records.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiokafka
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.kafka_clients.records import Record, headers_of


def version() -> str:
    return f"aiokafka {aiokafka.__version__}"


def produce(
    bootstrap: str,
    topic: str,
    records: list[Record],
    *,
    compression: str | None = None,
    timeout: float = 60.0,
    config: dict[str, Any] | None = None,
) -> list[Record]:
    """Write `records` in order (each to its own partition); return them as acknowledged."""
    return asyncio.run(asyncio.wait_for(_produce(bootstrap, topic, records, compression, config or {}), timeout))


async def _produce(
    bootstrap: str, topic: str, records: list[Record], compression: str | None, config: dict[str, Any]
) -> list[Record]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, compression_type=compression, **config
    )
    await producer.start()
    try:
        futures = [
            await producer.send(
                topic,
                value=r.value,
                key=r.key,
                partition=r.partition,
                timestamp_ms=r.timestamp,
                headers=list(r.headers),
            )
            for r in records
        ]
        acked = []
        for r, f in zip(records, futures, strict=True):
            md = await f
            # aiokafka 0.14 hands every record of a batch the first record's CreateTime in
            # its RecordMetadata (MessageBatch.done): keep the one we sent when we sent one.
            acked.append(r.at(md.offset, md.timestamp if r.timestamp is None else r.timestamp))
        return acked
    finally:
        await producer.stop()


def consume(bootstrap: str, topic: str, counts: dict[int, int], *, timeout: float = 60.0) -> list[Record]:
    """Read each partition in `counts` from its beginning until that many records arrived
    in all (or `timeout`); return them in the order read."""
    return asyncio.run(_consume(bootstrap, topic, counts, timeout))


async def _consume(bootstrap: str, topic: str, counts: dict[int, int], timeout: float) -> list[Record]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in counts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        return await poll_records(consumer, sum(counts.values()), timeout)
    finally:
        await consumer.stop()


async def poll_records(consumer: AIOKafkaConsumer, want: int, timeout: float) -> list[Record]:
    out: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        for batch in (await consumer.getmany(timeout_ms=500)).values():
            out.extend(to_record(r) for r in batch)
    return out


def to_record(r: Any) -> Record:
    return Record(r.partition, r.key, r.value, headers_of(r.headers), r.timestamp, r.offset)
