"""The accumulator's batching rules: size, linger, drain per broker, retries at the front."""

from __future__ import annotations

import asyncio

import pytest

from client.producer.accumulator import RecordAccumulator, records_metadata
from client.structs import RecordMetadata, TopicPartition

A, B, C = TopicPartition("t", 0), TopicPartition("t", 1), TopicPartition("u", 0)
LEADERS = {A: 1, B: 2, C: 1}


def acc(batch_size: int = 100, linger_ms: float = 10, buffer_memory: int = 10_000) -> RecordAccumulator:
    return RecordAccumulator(batch_size, linger_ms, buffer_memory, retry_backoff_ms=50)


async def test_batch_becomes_ready_when_full_or_lingered() -> None:
    a = acc()
    _, full = a.append(A, None, b"x" * 40, None, 1, 50, now=0.0)
    assert not full
    assert a.ready(0.001, LEADERS.get) == (set(), pytest.approx(0.009), set())
    assert a.ready(0.011, LEADERS.get)[0] == {1}
    _, full = a.append(A, None, b"x" * 40, None, 1, 50, now=0.002)
    assert full
    assert a.ready(0.002, LEADERS.get)[0] == {1}


async def test_a_record_that_does_not_fit_starts_a_new_batch() -> None:
    a = acc()
    a.append(A, None, b"", None, 1, 60, now=0.0)
    a.append(A, None, b"", None, 1, 60, now=0.0)  # 120 > 100: second batch
    batches = a.drain(1, LEADERS.get, 10_000, now=0.0)  # two batches queued: the head is ready
    assert [len(b.records) for b in batches] == [1]


async def test_drain_takes_one_head_batch_per_partition_of_that_broker() -> None:
    a = acc()
    for tp in (A, B, C):
        a.append(tp, b"k", b"v", None, 1, 10, now=0.0)
    assert a.ready(1.0, LEADERS.get)[0] == {1, 2}
    drained = a.drain(1, LEADERS.get, 10_000, now=1.0)
    assert {b.tp for b in drained} == {A, C}
    assert a.drain(1, LEADERS.get, 10_000, now=1.0) == []
    assert [b.tp for b in a.drain(2, LEADERS.get, 10_000, now=1.0)] == [B]


async def test_drain_respects_max_request_size_but_always_sends_one() -> None:
    a = acc(batch_size=1000)
    a.append(A, None, b"", None, 1, 600, now=0.0)
    a.append(C, None, b"", None, 1, 600, now=0.0)
    assert len(a.drain(1, LEADERS.get, 500, now=1.0)) == 1
    assert len(a.drain(1, LEADERS.get, 500, now=1.0)) == 1


async def test_unknown_leader_is_reported_and_not_drained() -> None:
    a = acc()
    a.append(TopicPartition("new", 0), None, b"v", None, 1, 10, now=0.0)
    nodes, _, unknown = a.ready(1.0, LEADERS.get)
    assert nodes == set() and unknown == {"new"}


async def test_record_futures_get_offsets_from_their_batch() -> None:
    a = acc()
    f0, _ = a.append(A, None, b"a", None, 111, 10, now=0.0)
    f1, _ = a.append(A, None, b"b", None, 222, 10, now=0.0)
    [batch] = a.drain(1, LEADERS.get, 10_000, now=1.0)
    assert batch.records == [(None, b"a", None, 111), (None, b"b", None, 222)]
    batch.done(base_offset=40, log_append_time=-1)
    assert await f0 == RecordMetadata("t", 0, 40, 111)
    assert await f1 == RecordMetadata("t", 0, 41, 222)


async def test_failed_batch_fails_every_record() -> None:
    a = acc()
    f0, _ = a.append(A, None, b"a", None, 1, 10, now=0.0)
    [batch] = a.drain(1, LEADERS.get, 10_000, now=1.0)
    batch.fail(RuntimeError("boom"))
    with pytest.raises(RuntimeError, match="boom"):
        await f0


async def test_reenqueued_batch_goes_first_after_the_backoff() -> None:
    a = acc()
    a.append(A, None, b"1", None, 1, 10, now=0.0)
    [first] = a.drain(1, LEADERS.get, 10_000, now=1.0)
    a.append(A, None, b"2", None, 1, 10, now=1.0)  # a new batch: the drained one is in flight
    a.reenqueue(first, now=1.0)
    assert first.attempts == 1
    assert a.drain(1, LEADERS.get, 10_000, now=1.01) == []  # head is backing off
    assert a.drain(1, LEADERS.get, 10_000, now=1.06) == [first]
    assert [b.records[0][1] for b in a.drain(1, LEADERS.get, 10_000, now=1.06)] == [b"2"]


async def test_buffer_memory_blocks_until_batches_complete() -> None:
    a = acc(buffer_memory=25)
    a.append(A, None, b"", None, 1, 30, now=0.0)
    waiter = asyncio.ensure_future(a.wait_for_room())
    await asyncio.sleep(0)
    assert not waiter.done()
    [batch] = a.drain(1, LEADERS.get, 10_000, now=1.0)
    batch.done(0, -1)
    await asyncio.wait_for(waiter, 1)
    assert a.buffered_bytes == 0


async def test_expire_fails_old_queued_batches() -> None:
    a = acc()
    f, _ = a.append(A, None, b"", None, 1, 10, now=0.0)
    a.expire(5.0, delivery_timeout=10, make_error=lambda b: TimeoutError("late"))
    assert not f.done()
    a.expire(11.0, delivery_timeout=10, make_error=lambda b: TimeoutError(f"late {b.tp}"))
    with pytest.raises(TimeoutError, match="late"):
        await f


async def test_a_split_batch_gives_each_record_its_offset_from_its_half() -> None:
    a = acc(batch_size=1000)
    futures = [a.append(A, None, b"%d" % i, None, i, 10, now=0.0)[0] for i in range(5)]
    [batch] = a.drain(1, LEADERS.get, 10_000, now=1.0)
    a.split(batch)
    [first] = a.drain(1, LEADERS.get, 10_000, now=1.0)
    assert [r[1] for r in first.records] == [b"0", b"1"]
    first.done(100, -1)
    assert not futures[0].done()  # the original completes only when both halves have
    [second] = a.drain(1, LEADERS.get, 10_000, now=1.0)
    a.split(second)  # and a half can be split again
    [third] = a.drain(1, LEADERS.get, 10_000, now=1.0)
    third.done(200, -1)
    [fourth] = a.drain(1, LEADERS.get, 10_000, now=1.0)
    fourth.done(300, -1)
    assert [(await f).offset for f in futures] == [100, 101, 200, 300, 301]
    assert a.buffered_bytes == 0


async def test_a_failed_half_fails_every_record_of_the_batch() -> None:
    a = acc()
    futures = [a.append(A, None, b"x", None, 1, 10, now=0.0)[0] for _ in range(2)]
    [batch] = a.drain(1, LEADERS.get, 10_000, now=1.0)
    a.split(batch)
    a.drain(1, LEADERS.get, 10_000, now=1.0)[0].done(0, -1)
    a.drain(1, LEADERS.get, 10_000, now=1.0)[0].fail(RuntimeError("refused"))
    for f in futures:
        with pytest.raises(RuntimeError, match="refused"):
            await f


async def test_append_to_batch_gives_the_batch_and_metadata_comes_for_all_its_records_at_once() -> None:
    """The batched hand-over's entry point: no future per record; one call settles a batch,
    a split one too (each record's offset from its half), log append time when the broker set it."""
    a = acc(batch_size=1000)
    placed = [a.append_to_batch(A, None, b"%d" % i, None, 10 + i, 10, now=0.0) for i in range(5)]
    batch = placed[0][0]
    assert all(b is batch for b, _full in placed) and len(batch.records) == 5
    assert records_metadata((7, -1), A, [(0, 10), (4, 14)]) == [
        RecordMetadata("t", 0, 7, 10),
        RecordMetadata("t", 0, 11, 14),
    ]
    assert records_metadata((-1, 999), A, [(1, 11)]) == [RecordMetadata("t", 0, -1, 999)]
    [drained] = a.drain(1, LEADERS.get, 10_000, now=1.0)
    first, second = a.split(drained)
    first.done(100, -1)
    second.done(300, -1)
    await asyncio.sleep(0)
    assert [m.offset for m in records_metadata(batch.future.result(), A, [(i, 0) for i in range(5)])] == [
        100,
        101,
        300,
        301,
        302,
    ]


async def test_append_run_fills_the_open_batch_in_one_step_until_one_does_not_fit() -> None:
    """A run of records for one partition (fields end to end, a PreparedRecord's seven each)
    goes into the open batch until the next one does not fit; the next call starts a new
    batch; buffer_memory stops a run as soon as it is reached."""
    records = []
    for i in range(5):
        records += ["t", b"v%d" % i, None, None, None, None if i != 2 else 77, 30]
    a = acc(batch_size=100)
    batch, first, taken, full = a.append_run(A, records, 0, 5, 7, 5, now=0.0)
    assert (first, taken, full) == (0, 3, False)  # 90 bytes; a fourth record would make 120
    assert [r[3] for r in batch.records] == [5, 5, 77]  # now_ms unless the record has a timestamp
    second, first, taken, full = a.append_run(A, records, 3, 5, 7, 5, now=0.0)
    assert second is not batch and (first, taken) == (0, 2) and second.records[0][1] == b"v3"
    assert a.buffered_bytes == 150
    small = acc(batch_size=100, buffer_memory=60)
    _, _, taken, _ = small.append_run(A, records, 0, 5, 7, 5, now=0.0)
    assert taken == 2 and small.buffered_bytes == 60
