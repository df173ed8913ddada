"""confluent-kafka (librdkafka) as a writer and a reader of records, for the cross-client tests.

Runs with whichever confluent_kafka is importable: the PyPI wheel in-process, or Debian's
python3-confluent-kafka (librdkafka 2.0) in a subprocess (see subprocess_client.py). It
must never import anything beyond confluent_kafka and tests.kafka_clients.records, so
that both builds load it.
"""

from __future__ import annotations

import time
from typing import Any

import confluent_kafka
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from tests.kafka_clients.records import Record, headers_of


def version() -> str:
    return f"confluent-kafka {confluent_kafka.version()[0]}, librdkafka {confluent_kafka.libversion()[0]}"


def client_file() -> str:
    """Where the client was imported from (a child process proves it loaded the build asked for)."""
    return confluent_kafka.__file__


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
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": int(timeout * 1000),
    }
    if compression:
        conf["compression.type"] = compression
    producer = Producer({**conf, **(config or {})})
    acked: list[Record | None] = [None] * len(records)
    errors: list[str] = []

    def delivered(i: int, err: Any, msg: Any) -> None:
        if err is not None:
            errors.append(f"record {i}: {err}")
        else:
            acked[i] = records[i].at(msg.offset(), msg.timestamp()[1])

    for i, r in enumerate(records):
        producer.produce(
            topic,
            value=r.value,
            key=r.key,
            partition=r.partition,
            headers=list(r.headers) or None,
            timestamp=r.timestamp or 0,
            on_delivery=lambda err, msg, i=i: delivered(i, err, msg),
        )
        producer.poll(0)
    left = producer.flush(timeout)
    if errors or left:
        raise AssertionError(f"confluent-kafka produce to {topic}: {left} undelivered; errors: {errors[:5]}")
    return [r for r in acked if r is not None]


def consume(bootstrap: str, topic: str, counts: dict[int, int], *, timeout: float = 60.0) -> list[Record]:
    """Read each partition in `counts` from its beginning until that many records arrived
    in all (or `timeout`); return them in the order read."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "kclients-reader",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in counts])
        return poll_records(consumer, sum(counts.values()), timeout)
    finally:
        consumer.close()


def poll_records(consumer: Consumer, want: int, timeout: float) -> list[Record]:
    """Poll until `want` records or `timeout`; a consumer error fails at once, naming itself."""
    out: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            raise AssertionError(f"confluent-kafka consumer error: {msg.error()}")
        out.append(to_record(msg))
    return out


def to_record(msg: Any) -> Record:
    return Record(msg.partition(), msg.key(), msg.value(), headers_of(msg.headers()), msg.timestamp()[1], msg.offset())
