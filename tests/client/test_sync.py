"""The synchronous facades: Producer, Consumer, Admin from plain (non-async) code."""

from __future__ import annotations

import concurrent.futures
import time

import pytest

from client import Admin, Consumer, NewTopic, Producer, RecordMetadata, TopicPartition
from client.errors import NoBrokersAvailableError, TopicAlreadyExistsError, UnknownTopicOrPartitionError
from tests.support.node import bootstrap
from tests.support.ports import free_port


def test_sync_producer_consumer_admin_round_trip(shared_node) -> None:
    bs = bootstrap(shared_node)
    with Admin(bs) as admin:
        admin.create_topics([NewTopic("sync-t", 2)])
        with pytest.raises(TopicAlreadyExistsError):
            admin.create_topics([NewTopic("sync-t", 2)])
        assert "sync-t" in admin.list_topics()
        assert len(admin.describe_topics(["sync-t"])[0].partitions) == 2
    with Producer(bs) as producer:
        futures = [producer.send("sync-t", b"v%d" % i, key=b"k%d" % i) for i in range(1000)]
        assert isinstance(futures[0], concurrent.futures.Future)
        producer.flush()
        metas = [f.result(timeout=10) for f in futures]
        assert all(isinstance(m, RecordMetadata) and m.offset >= 0 for m in metas)
        assert producer.send_and_wait("sync-t", b"last", partition=1).partition == 1
        with pytest.raises(UnknownTopicOrPartitionError):
            Producer(bs, max_block_ms=300).send("nope", b"x").result(timeout=10)
    with Consumer(bs, auto_offset_reset="earliest") as consumer:
        consumer.assign([TopicPartition("sync-t", 0), TopicPartition("sync-t", 1)])
        got = []
        deadline = time.monotonic() + 15
        for record in consumer:
            got.append(record)
            if len(got) == 1001 or time.monotonic() > deadline:
                break
        assert sorted(r.value for r in got) == sorted([b"v%d" % i for i in range(1000)] + [b"last"])
        assert consumer.position(TopicPartition("sync-t", 1)) == sum(1 for r in got if r.partition == 1)
        consumer.seek(TopicPartition("sync-t", 0), 0)
        assert consumer.poll(timeout_ms=5000, max_records=1)[0].offset == 0


def test_no_broker_is_a_clear_error() -> None:
    with pytest.raises(NoBrokersAvailableError, match="no broker answered"):
        Admin(f"127.0.0.1:{free_port()}")


def test_first_poll_of_a_new_consumer_returns_records_already_there(shared_node, new_topic) -> None:
    """A fresh consumer knows no leaders yet: the poll must fetch once metadata arrives,
    not sleep out its whole timeout and return nothing."""
    topic = new_topic(partitions=1)
    bs = bootstrap(shared_node)
    with Producer(bs) as producer:
        producer.send_and_wait(topic, b"waiting")
    tp = TopicPartition(topic, 0)
    with Consumer(bs) as consumer:
        consumer.assign([tp])
        consumer.seek(tp, 0)
        assert [r.value for r in consumer.poll(timeout_ms=10_000)] == [b"waiting"]
