"""kafka-python as a writer and a reader of records, for the cross-client tests.

Runs with whichever kafka-python is importable: 3.x in-process, 2.x in a subprocess
whose path starts with a copy pip installed aside (see subprocess_client.py). It must
never import anything beyond kafka and tests.kafka_clients.records.
"""

from __future__ import annotations

import time
from typing import Any

import kafka
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from tests.kafka_clients.records import Record, headers_of


def version() -> str:
    return f"kafka-python {kafka.__version__}"


def client_file() -> str:
    """Where the client was imported from (a child process proves it loaded the build asked for)."""
    return kafka.__file__


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
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, compression_type=compression, **(config or {})
    )
    try:
        futures = [
            producer.send(
                topic,
                value=r.value,
                key=r.key,
                headers=list(r.headers),
                partition=r.partition,
                timestamp_ms=r.timestamp,
            )
            for r in records
        ]
        producer.flush(timeout)
        acked = []
        for r, f in zip(records, futures, strict=True):
            md = f.get(timeout)
            acked.append(r.at(md.offset, md.timestamp))
        return acked
    finally:
        producer.close(timeout)


def consume(bootstrap: str, topic: str, counts: dict[int, int], *, timeout: float = 60.0) -> list[Record]:
    """Read each partition in `counts` from its beginning until that many records arrived
    in all (or `timeout`); return them in the order read."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        tps = [TopicPartition(topic, p) for p in counts]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        return poll_records(consumer, sum(counts.values()), timeout)
    finally:
        consumer.close()


def poll_records(consumer: KafkaConsumer, want: int, timeout: float) -> list[Record]:
    out: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            out.extend(to_record(r) for r in batch)
    return out


def to_record(r: Any) -> Record:
    return Record(r.partition, r.key, r.value, headers_of(r.headers), r.timestamp, r.offset)
