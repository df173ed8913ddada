"""The sync Producer's batched hand-over: records from several threads at once arrive
complete and in each thread's order, each with its own Future; send() blocks at most
max_block_ms for room. The RecordFuture's own tests are in test_record_future.py."""

from __future__ import annotations

import threading
import time

from client import Admin, NewTopic, Producer, RecordMetadata
from client.errors import ClientTimeoutError
from client.partitioner import partition_for_key
from tests.support.node import bootstrap


def test_records_from_several_threads_arrive_complete_and_in_each_threads_order(shared_node, new_topic) -> None:
    topic = new_topic(partitions=1)
    threads, per_thread = 4, 3000
    sent: dict[int, list] = {}
    with Producer(bootstrap(shared_node), max_pending=500) as producer:  # small: send() blocks for room too
        start = threading.Barrier(threads)

        def run(t: int) -> None:
            start.wait(timeout=10)
            sent[t] = [producer.send(topic, b"%d:%d" % (t, i)) for i in range(per_thread)]

        workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=60)
        producer.flush(timeout=60)
    offsets = set()
    for t in range(threads):
        metas = [f.result(timeout=0) for f in sent[t]]
        assert all(isinstance(m, RecordMetadata) and m.topic == topic for m in metas)
        assert [m.offset for m in metas] == sorted(m.offset for m in metas)  # this thread's order kept
        offsets.update(m.offset for m in metas)
    assert offsets == set(range(threads * per_thread))  # every record once, none lost


def test_send_gives_up_on_room_after_max_block_ms_when_the_broker_is_gone(node) -> None:
    """The bound on pending records holds when the broker stops answering: send() blocks
    for room at most max_block_ms, then fails that record's Future (as Kafka's send()
    gives up on buffer space), and every earlier record still ends."""
    node.start()
    topic = "gone"
    with Admin(bootstrap(node)) as admin:
        admin.create_topics([NewTopic(topic, 1, 1)])
    with Producer(
        bootstrap(node),
        acks=1,
        max_pending=20,
        buffer_memory=4000,
        max_block_ms=1000,
        request_timeout_ms=1000,
        delivery_timeout_ms=3000,
        linger_ms=0,
    ) as producer:
        assert producer.send(topic, b"first").result(timeout=30).offset == 0
        node.kill()
        futures, blocked_for = [], 0.0
        for _ in range(2000):  # 4000 B hold ~35 records, 20 more queue: send() must block long before this ends
            t0 = time.monotonic()
            futures.append(producer.send(topic, b"x" * 100))
            blocked_for = time.monotonic() - t0
            if futures[-1].done():
                break
        refused = futures[-1].exception(timeout=0)
        assert isinstance(refused, ClientTimeoutError) and "max_block_ms=1000" in str(refused)
        assert blocked_for >= 0.9  # it waited max_block_ms for room, not less
        assert len(futures) < 200
        producer.flush(timeout=60)
        assert all(f.done() for f in futures)  # the queued ones ended too (delivery timeout)


def test_a_mixed_burst_goes_where_each_record_says_in_order(shared_node, new_topic) -> None:
    """Runs of records for one partition are appended in one step: keyless, keyed, given a
    partition or a bad one, across batches and two topics, each record still lands on its
    own partition, in send order there, with its own timestamp, and a bad one fails alone."""
    topic, other = new_topic(partitions=3), new_topic(partitions=1)
    with Producer(bootstrap(shared_node), acks=1, batch_size=300, linger_ms=50) as producer:
        sent = []
        for i in range(600):
            kind = i % 60
            if kind < 20:
                args: dict = {}
            elif kind < 40:
                args = {"key": b"k%d" % (i % 7)}
            elif kind < 50:
                args = {"partition": 2, "timestamp_ms": 1000 + i}
            else:
                args = {"key": b"k%d" % i, "partition": 1}
            sent.append((topic, args, producer.send(topic, b"%d" % i, **args)))
            if i % 97 == 0:
                sent.append((other, {}, producer.send(other, b"o%d" % i)))
        bad = producer.send(topic, b"bad", partition=3)
        producer.flush(timeout=60)
    assert isinstance(bad.exception(timeout=0), ValueError)
    by_partition: dict[tuple[str, int], list[int]] = {}
    for name, args, future in sent:
        meta = future.result(timeout=0)
        assert meta.topic == name
        if "partition" in args:
            assert meta.partition == args["partition"]
        elif "key" in args:
            assert meta.partition == partition_for_key(args["key"], 3)
        if "timestamp_ms" in args:
            assert meta.timestamp == args["timestamp_ms"]
        by_partition.setdefault((name, meta.partition), []).append(meta.offset)
    for offsets in by_partition.values():
        assert offsets == list(range(len(offsets)))  # send order, none lost or doubled
