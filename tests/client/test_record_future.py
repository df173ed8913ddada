"""RecordFuture: a concurrent Future that is a position in a Handover, which points at its
batch's outcome once the record is in a batch. It behaves as
concurrent.futures documents; each future ends exactly once, with its own record's
metadata; a callback or waiter added at any moment (before its record joins a batch,
while the batch finishes) is called exactly once; an unwatched future is not kept."""

from __future__ import annotations

import concurrent.futures
import threading
import time
import weakref

import pytest

from client.record_future import LOCK, BatchOutcome, Handover, RecordFuture
from client.structs import RecordMetadata, TopicPartition

TP = TopicPartition("t", 0)


def _futures(count: int) -> list[RecordFuture]:
    """What the sync Producer's send() returns for `count` records, as its loop takes them."""
    handover = Handover()
    handover.sent.extend(0.0 for _ in range(count))
    handover.take()
    return [RecordFuture(handover, pos) for pos in range(count)]


def _join(futures: list[RecordFuture], outcome: BatchOutcome, stamps: list[int] | None = None) -> None:
    """What the sync Producer does when it appends the futures' records to one batch."""
    with LOCK:
        for future in futures:
            outcome.stamps.append(stamps[len(outcome.stamps)] if stamps else 100)
            future._handover.place(future._pos, 1, outcome, len(outcome.stamps) - 1)


def test_a_record_future_is_a_concurrent_future() -> None:
    futures = _futures(3)
    called = []
    futures[0].add_done_callback(called.append)  # before it joins a batch
    assert isinstance(futures[0], concurrent.futures.Future)
    assert not futures[0].done() and futures[0].cancel() is False and not futures[0].cancelled()
    with pytest.raises(concurrent.futures.TimeoutError):
        futures[0].result(timeout=0.01)
    done, not_done = concurrent.futures.wait(futures, timeout=0)
    assert not done and len(not_done) == 3

    batch = BatchOutcome(TP)
    _join(futures[:2], batch, [10, 11])
    waiter = threading.Thread(target=lambda: called.append(futures[1].result(timeout=10)))
    waiter.start()
    batch.finish((7, -1), None)  # one notify wakes the waiter, whose future is in this batch
    waiter.join(timeout=10)
    assert called == [futures[0], RecordMetadata("t", 0, 8, 11)]
    assert futures[0].result() == RecordMetadata("t", 0, 7, 10)
    assert list(concurrent.futures.as_completed(futures[:2], timeout=1)) != []

    waiting = concurrent.futures.ThreadPoolExecutor(1).submit(
        concurrent.futures.wait, [futures[2]], 10, concurrent.futures.FIRST_COMPLETED
    )
    refused = BatchOutcome(TP)
    _join([futures[2]], refused)
    refused.finish(None, ValueError("refused"))
    assert futures[2] in waiting.result(timeout=10).done
    with pytest.raises(ValueError, match="refused"):
        futures[2].result()
    assert isinstance(futures[2].exception(), ValueError)
    late = []
    futures[2].add_done_callback(late.append)  # already done: called at once
    assert late == [futures[2]]
    with pytest.raises(RuntimeError):
        futures[2].set_exception(ValueError("twice"))


def test_a_future_failed_on_its_own_ends_once() -> None:
    refused = RecordFuture()  # refused by send() before it was queued
    calls = []
    refused.add_done_callback(calls.append)
    refused.set_exception(TimeoutError("no room"))
    assert calls == [refused] and isinstance(refused.exception(timeout=0), TimeoutError)
    with pytest.raises(RuntimeError):
        refused.set_exception(TimeoutError("again"))
    assert calls == [refused]

    failed, other = _futures(2)  # queued, then failed alone by the loop (no metadata in time)
    failed.add_done_callback(calls.append)
    waiting = concurrent.futures.ThreadPoolExecutor(1).submit(failed.exception, 10)
    with LOCK:
        watchers = failed._handover.fail(failed._pos, TimeoutError("no metadata"))
    assert watchers == [failed] and calls == [refused]  # its callback runs after LOCK, by the caller
    watchers[0]._invoke_callbacks()
    assert calls == [refused, failed] and isinstance(waiting.result(timeout=10), TimeoutError)
    assert not other.done()
    with pytest.raises(RuntimeError):
        failed.set_exception(TimeoutError("again"))


def test_a_waiter_on_one_future_is_not_ended_by_another_finishing() -> None:
    """The Condition is shared: another batch finishing wakes the waiter, which must sleep
    again instead of reporting a timeout early or a result it does not have."""
    mine, other = _futures(2)
    mine_batch, other_batch = BatchOutcome(TP), BatchOutcome(TP)
    _join([mine], mine_batch)
    _join([other], other_batch)
    outcome = []
    waiter = threading.Thread(target=lambda: outcome.append(mine.result(timeout=10)))
    waiter.start()
    other_batch.finish((5, -1), None)
    waiter.join(timeout=0.2)
    assert waiter.is_alive() and outcome == []
    mine_batch.finish((9, 1234), None)
    waiter.join(timeout=10)
    assert outcome == [RecordMetadata("t", 0, 9, 1234)]  # the broker's log-append time wins


def test_a_watcher_added_at_each_stage_of_a_futures_life_is_called_once() -> None:
    """Before its record joins a batch, after it joined and before the batch ends, after:
    each callback runs exactly once, and a wait() installed after joining returns."""
    before, between, after = _futures(3)
    calls: list[tuple[str, RecordFuture]] = []
    before.add_done_callback(lambda f: calls.append(("before", f)))
    batch = BatchOutcome(TP)
    _join([before, between, after], batch)
    between.add_done_callback(lambda f: calls.append(("between", f)))
    waiting = concurrent.futures.ThreadPoolExecutor(1).submit(concurrent.futures.wait, [after], 10)
    for _ in range(1000):  # wait() installs its waiter at once; give a loaded machine 10 s
        if after._waiter_list:
            break
        time.sleep(0.01)
    batch.finish((3, -1), None)
    after.add_done_callback(lambda f: calls.append(("after", f)))
    assert calls == [("before", before), ("between", between), ("after", after)]
    assert after in waiting.result(timeout=10).done
    assert [f.result(timeout=0).offset for f in (before, between, after)] == [3, 4, 5]


def test_callbacks_and_waiters_added_while_records_join_and_finish_are_called_once() -> None:
    """Watchers are added from other threads at any moment of a future's life: before its
    record joins a batch, between joining and finishing, after. Each callback runs exactly
    once, each wait() returns it, and every result is its own record's."""
    rounds, per_batch = 40, 50
    for _ in range(rounds):
        futures = _futures(per_batch)
        calls: list[RecordFuture] = []
        calls_lock = threading.Lock()

        # The closures below use this round's objects only: its threads are joined before the next.
        def record_call(future: concurrent.futures.Future) -> None:
            with calls_lock:  # noqa: B023 - this round's
                calls.append(future)  # noqa: B023 - this round's

        waited: list[set] = []
        start = threading.Barrier(3)

        def watch(mine: list[RecordFuture]) -> None:
            start.wait(timeout=10)  # noqa: B023 - this round's
            for future in mine:
                future.add_done_callback(record_call)
            waited.append(concurrent.futures.wait(mine, timeout=10).done)  # noqa: B023 - this round's

        watchers = [threading.Thread(target=watch, args=(futures[i::2],)) for i in range(2)]
        for w in watchers:
            w.start()
        start.wait(timeout=10)
        batch = BatchOutcome(TP)
        _join(futures, batch)
        batch.finish((1000, -1), None)
        for w in watchers:
            w.join(timeout=10)
        assert sorted(map(id, calls)) == sorted(map(id, futures))  # each exactly once
        assert sum(len(d) for d in waited) == per_batch
        assert [f.result(timeout=0).offset for f in futures] == list(range(1000, 1000 + per_batch))


def test_an_unwatched_future_is_not_kept_by_the_producer() -> None:
    """The producer forgets a future its caller does not keep: no future lives on per
    record until the broker answers (the garbage collector's cost at high rates)."""
    batch = BatchOutcome(TP)
    future, watched = _futures(2)
    gone = weakref.ref(future)
    del future
    assert gone() is None  # freed by reference counting, with nothing else holding it
    watched.add_done_callback(lambda f: None)
    _join([watched], batch)
    assert batch.watchers == [watched]  # a watched one is kept until its batch ends
    batch.finish((0, -1), None)
    assert batch.watchers == []
