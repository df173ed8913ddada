"""The sync Producer's batched hand-over: records from several threads at once arrive
complete and in each thread's order, each with its own Future; RecordFuture behaves as a
concurrent Future."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest

from client import Producer, RecordMetadata
from client.record_future import RecordFuture, fail, settle
from tests.client.conftest import bootstrap


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


def test_a_record_future_is_a_concurrent_future() -> None:
    futures = [RecordFuture() for _ in range(3)]
    called = []
    futures[0].add_done_callback(called.append)
    assert not futures[0].done() and futures[0].cancel() is False
    with pytest.raises(concurrent.futures.TimeoutError):
        futures[0].result(timeout=0.01)
    done, not_done = concurrent.futures.wait(futures, timeout=0)
    assert not done and len(not_done) == 3

    waiter = threading.Thread(target=lambda: called.append(futures[1].result(timeout=10)))
    waiter.start()
    settle(futures[:2], ["a", "b"])  # one notify wakes the waiter, whose future is among them
    waiter.join(timeout=10)
    assert called == [futures[0], "b"]
    assert futures[0].result() == "a"
    assert list(concurrent.futures.as_completed(futures[:2], timeout=1)) != []

    waiting = concurrent.futures.ThreadPoolExecutor(1).submit(
        concurrent.futures.wait, [futures[2]], 10, concurrent.futures.FIRST_COMPLETED)
    fail([futures[2]], ValueError("refused"))
    assert futures[2] in waiting.result(timeout=10).done
    with pytest.raises(ValueError, match="refused"):
        futures[2].result()
    assert isinstance(futures[2].exception(), ValueError)
    late = []
    futures[2].add_done_callback(late.append)  # already done: called at once
    assert late == [futures[2]]


def test_a_waiter_on_one_future_is_not_ended_by_another_finishing() -> None:
    """The Condition is shared: another future's settlement wakes the waiter, which must
    sleep again instead of reporting a timeout early or a result it does not have."""
    mine, other = RecordFuture(), RecordFuture()
    outcome = []
    waiter = threading.Thread(target=lambda: outcome.append(mine.result(timeout=10)))
    waiter.start()
    settle([other], ["other"])
    waiter.join(timeout=0.2)
    assert waiter.is_alive() and outcome == []
    settle([mine], ["mine"])
    waiter.join(timeout=10)
    assert outcome == ["mine"]
