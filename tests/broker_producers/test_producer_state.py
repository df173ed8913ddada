"""The idempotent producer's per-partition rules (kafka-reference.md section 8), snapshot,
rebuild and producer id blocks."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.log import LogConfig, PartitionLog
from broker.producers import (
    Append,
    Duplicate,
    ErrorCode,
    ProducerIdAllocator,
    ProducerStateTable,
    Reject,
    load_snapshot,
    next_block,
    snapshot,
)
from broker.producers.id_block import ProducerIdBlock
from broker.producers.snapshot import Anchor, SnapshotCorruptError
from broker.producers.state import INT32_MAX, increment_sequence
from broker.server.idempotence import PartitionProducers
from client.protocol.record_batch import build_batch, iter_batches


def written(
    table: ProducerStateTable, pid: int, epoch: int, seq: int, count: int, offset: int, timestamp: int = -1
) -> None:
    assert table.check(pid, epoch, seq, count) == Append()
    table.append(pid, epoch, seq, count, offset, timestamp)


def test_in_order_batches_append_and_a_retry_is_a_duplicate_with_its_offsets() -> None:
    t = ProducerStateTable()
    written(t, 7, 0, 0, 3, 100)
    written(t, 7, 0, 3, 2, 103)
    assert t.check(7, 0, 0, 3) == Duplicate(100, 102)
    assert t.check(7, 0, 3, 2) == Duplicate(103, 104)


def test_only_the_last_five_batches_are_remembered() -> None:
    t = ProducerStateTable()
    for i in range(6):
        written(t, 1, 0, i, 1, i)
    assert isinstance(t.check(1, 0, 0, 1), Reject)
    assert t.check(1, 0, 1, 1) == Duplicate(1, 1)


def test_a_gap_is_out_of_order() -> None:
    t = ProducerStateTable()
    written(t, 1, 0, 0, 1, 0)
    verdict = t.check(1, 0, 2, 1)
    assert isinstance(verdict, Reject) and verdict.error is ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER


def test_older_epoch_is_fenced_and_a_new_epoch_restarts_at_zero() -> None:
    t = ProducerStateTable()
    written(t, 1, 3, 0, 5, 0)
    assert t.check(1, 2, 5, 1).error is ErrorCode.INVALID_PRODUCER_EPOCH
    assert t.check(1, 4, 5, 1).error is ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    written(t, 1, 4, 0, 1, 5)
    assert t.entries[1].epoch == 4 and len(t.entries[1].batches) == 1


def test_an_unknown_producer_starts_at_zero_and_non_idempotent_batches_are_accepted() -> None:
    t = ProducerStateTable()
    assert t.check(9, 0, 0, 1) == Append()
    assert t.check(9, 0, 1234, 1).error is ErrorCode.UNKNOWN_PRODUCER_ID
    assert t.check(-1, -1, -1, 10) == Append()


def test_sequences_wrap_at_int32_max() -> None:
    assert increment_sequence(INT32_MAX, 1) == 0
    t = ProducerStateTable()
    written(t, 1, 0, 0, INT32_MAX - 1, 0)  # sequences 0 .. MAX-2
    written(t, 1, 0, INT32_MAX - 1, 3, INT32_MAX - 1)  # sequences MAX-1, MAX, 0
    assert t.entries[1].last_seq == 0
    written(t, 1, 0, 1, 1, INT32_MAX + 2)
    assert t.check(1, 0, INT32_MAX - 1, 3) == Duplicate(INT32_MAX - 1, INT32_MAX + 1)


def test_snapshot_round_trips_and_refuses_damage() -> None:
    t = ProducerStateTable()
    written(t, 1, 0, 0, 2, 10)
    written(t, 2, 5, 0, 1, 12, timestamp=777)
    data = snapshot(t, 13, Anchor(12, 0xABCD))
    back, offset, anchor = load_snapshot(data)
    assert offset == 13 and back.entries == t.entries and anchor == Anchor(12, 0xABCD)
    assert load_snapshot(snapshot(t, 13)).anchor is None
    with pytest.raises(SnapshotCorruptError):
        load_snapshot(data[:-1] + bytes([data[-1] ^ 1]))


def test_rebuild_from_log_batch_headers_equals_the_live_state(tmp_path: Path) -> None:
    t = ProducerStateTable()
    log = b""
    offset = 0
    for seq, count in [(0, 2), (2, 1), (3, 4)]:
        written(t, 42, 1, seq, count, offset, timestamp=1000 + seq)
        log += build_batch(
            [(None, b"v", None, 1000 + seq)] * count,
            base_offset=offset,
            producer_id=42,
            producer_epoch=1,
            base_sequence=seq,
        )
        offset += count
    plog = PartitionLog.open(tmp_path / "t-0", LogConfig())
    try:
        replayed = PartitionProducers(plog, leader_epoch=0)
        replayed.record(iter_batches(log))  # what a broker replays after its newest snapshot
        assert replayed.table.entries == t.entries
    finally:
        plog.close()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["send", "retry", "bump"]), st.integers(0, 6), st.integers(1, 3)), max_size=40)
)
def test_retries_never_write_twice_and_snapshot_plus_rebuild_equals_live(script) -> None:
    """A producer that sends, retries any earlier batch, and bumps its epoch: a retried
    batch still in the window is answered with its first offsets, never written again."""
    t = ProducerStateTable()
    epoch, next_seq, offset = 0, 0, 0
    appended: dict[tuple[int, int, int], int] = {}  # (epoch, seq, count) -> first offset
    order: list[tuple[int, int, int]] = []
    for op, back, count in script:
        if op == "bump":
            epoch, next_seq = epoch + 1, 0
            continue
        if op == "retry" and order:
            batch = order[max(0, len(order) - 1 - back)]
        else:
            batch = (epoch, next_seq, count)
        verdict = t.check(5, *batch)
        if isinstance(verdict, Append):
            assert batch not in appended
            t.append(5, *batch, offset)
            appended[batch] = offset
            order.append(batch)
            offset += batch[2]
            next_seq = increment_sequence(batch[1], batch[2])
        elif isinstance(verdict, Duplicate):
            assert verdict.first_offset == appended[batch]
        else:
            assert op == "retry"  # only retries of old batches are refused
    rebuilt = ProducerStateTable()
    for batch in order:
        rebuilt.append(5, *batch, appended[batch])
    assert rebuilt.entries == t.entries
    assert load_snapshot(snapshot(t, offset))[0].entries == t.entries


def test_idle_producers_expire_by_their_batches_timestamps() -> None:
    t = ProducerStateTable()
    written(t, 1, 0, 0, 1, 0, timestamp=1_000)
    written(t, 2, 0, 0, 1, 1, timestamp=5_000)
    written(t, 2, 0, 1, 1, 2, timestamp=4_000)  # an older timestamp does not make it idle
    assert t.expire(now_ms=10_000, max_idle_ms=6_000) == 1
    assert list(t.entries) == [2] and t.entries[2].last_timestamp == 5_000
    assert t.check(1, 0, 1, 1).error is ErrorCode.UNKNOWN_PRODUCER_ID  # forgotten: must start again


def test_producer_id_blocks_follow_kafkas_znode() -> None:
    first = next_block(None, broker=1)
    assert (first.block_start, first.block_end) == (0, 999)
    data = b'{"version":1,"broker":2,"block_start":"1000","block_end":"1999"}'
    block = next_block(data, broker=3)
    assert (block.broker, block.block_start, block.block_end) == (3, 2000, 2999)
    assert ProducerIdBlock.from_json(block.to_json()) == block
    alloc = ProducerIdAllocator()
    assert alloc.allocate() is None
    alloc.use(ProducerIdBlock(1, 0, 1))
    assert [alloc.allocate(), alloc.allocate(), alloc.allocate()] == [0, 1, None]
