"""pybroker's own client (`from client import Producer, Consumer`) as a writer and a reader
of records, for the cross-client tests: the one judge we wrote ourselves, checked by the
others. It must never reach into the client's internals: only what README.md shows.
"""

from __future__ import annotations

import time
from typing import Any

from client import Consumer, Producer, TopicPartition
from tests.kafka_clients.records import Record, headers_of


def version() -> str:
    return "pybroker client (this tree)"


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
    with Producer(bootstrap, acks="all", linger_ms=5, compression=compression, **(config or {})) as producer:
        futures = [
            producer.send(
                topic, r.value, r.key, headers=list(r.headers) or None, partition=r.partition, timestamp_ms=r.timestamp
            )
            for r in records
        ]
        producer.flush(timeout)
        acked = []
        for r, f in zip(records, futures, strict=True):
            md = f.result(timeout)
            acked.append(r.at(md.offset, md.timestamp))
        return acked


def consume(bootstrap: str, topic: str, counts: dict[int, int], *, timeout: float = 60.0) -> list[Record]:
    """Read each partition in `counts` from its beginning until that many records arrived
    in all (or `timeout`); return them in the order read."""
    with Consumer(bootstrap, auto_offset_reset="earliest", enable_auto_commit=False) as consumer:
        tps = [TopicPartition(topic, p) for p in counts]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        return poll_records(consumer, sum(counts.values()), timeout)


def poll_records(consumer: Consumer, want: int, timeout: float) -> list[Record]:
    out: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        out.extend(to_record(r) for r in consumer.poll(timeout_ms=500))
    return out


def to_record(r: Any) -> Record:
    return Record(r.partition, r.key, r.value, headers_of(r.headers), r.timestamp, r.offset)
