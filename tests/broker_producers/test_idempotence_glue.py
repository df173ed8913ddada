"""The broker's idempotence glue (broker/server/idempotence.py) on a real partition log:
admission on the produce path, snapshots, reload after a restart, a log that moved
without us (follower appends, truncation and rewrite)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from pathlib import Path

import pytest

from broker.log import LogConfig, PartitionLog
from broker.server.idempotence import ProducerStates, SequenceRefusedError, snapshot_offsets, snapshot_path
from client.protocol.errors import ErrorCode
from client.protocol.record_batch import build_batch, iter_batches

CONFIG = LogConfig(segment_bytes=4096)


def batch(pid: int, seq: int, count: int = 2, epoch: int = 0, value: bytes = b"v") -> bytes:
    return build_batch(
        [(None, value, None, 1000 + i) for i in range(count)], producer_id=pid, producer_epoch=epoch, base_sequence=seq
    )


def produce(states: ProducerStates, plog: PartitionLog, records: bytes, leader_epoch: int = 0) -> int:
    """What the produce handler does; returns the first offset answered."""
    admission = states.admit(plog, leader_epoch, records)
    info = admission.duplicate or plog.append(records, leader_epoch=leader_epoch)
    admission.appended(info.first_offset)
    return info.first_offset


def log_batches(plog: PartitionLog) -> list[tuple[int, int, int]]:
    with plog.read(plog.log_start_offset, 1 << 30) as piece:
        return [(h.base_offset, h.producer_id, h.base_sequence) for h in iter_batches(piece.read_bytes())]


@pytest.fixture
def plog(tmp_path: Path):
    log = PartitionLog.open(tmp_path / "t-0", CONFIG)
    yield log
    log.close()


def test_a_retried_batch_is_answered_with_its_original_offset_and_written_once(plog) -> None:
    states = ProducerStates()
    assert produce(states, plog, batch(7, 0)) == 0
    assert produce(states, plog, batch(7, 2)) == 2
    assert produce(states, plog, batch(7, 0)) == 0  # a retry of the first: a duplicate
    assert produce(states, plog, batch(7, 2)) == 2
    assert log_batches(plog) == [(0, 7, 0), (2, 7, 2)]


def test_gaps_stale_epochs_and_malformed_idempotent_produces_are_refused(plog) -> None:
    states = ProducerStates()
    produce(states, plog, batch(7, 0, epoch=3))
    with pytest.raises(SequenceRefusedError) as gap:
        produce(states, plog, batch(7, 5, epoch=3))
    assert gap.value.code is ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER and "expected 2" in gap.value.message
    with pytest.raises(SequenceRefusedError) as fenced:
        produce(states, plog, batch(7, 2, epoch=2))
    assert fenced.value.code is ErrorCode.INVALID_PRODUCER_EPOCH
    with pytest.raises(SequenceRefusedError) as two:
        produce(states, plog, batch(7, 2, epoch=3) + batch(7, 4, epoch=3))
    assert two.value.code is ErrorCode.INVALID_RECORD
    with pytest.raises(SequenceRefusedError):
        produce(states, plog, batch(8, -1))
    assert log_batches(plog) == [(0, 7, 0)]  # nothing refused was written


def test_plain_batches_never_load_producer_state(plog) -> None:
    states = ProducerStates()
    produce(states, plog, batch(-1, -1))
    produce(states, plog, batch(-1, -1))
    assert not list(states._parts)
    assert produce(states, plog, batch(9, 0)) == 4


def test_state_is_rebuilt_from_snapshot_and_log_tail_after_a_restart(tmp_path: Path) -> None:
    directory = tmp_path / "t-0"
    plog = PartitionLog.open(directory, CONFIG)
    states = ProducerStates()
    for seq in range(0, 10, 2):
        produce(states, plog, batch(1, seq))
    plog.flush()
    asyncio.run(states.snapshot([plog], durable=True))
    assert snapshot_offsets(directory) == [10]
    for seq in range(10, 20, 2):  # after the snapshot: only in the log
        produce(states, plog, batch(1, seq))
    produce(states, plog, batch(-1, -1))  # a plain batch between
    plog.flush()
    plog.close()

    plog = PartitionLog.open(directory, CONFIG)
    states = ProducerStates()
    assert produce(states, plog, batch(1, 18)) == 18  # the last batch: a duplicate
    assert produce(states, plog, batch(1, 12)) == 12  # still in the window of five
    with pytest.raises(SequenceRefusedError):
        produce(states, plog, batch(1, 8))  # out of the window: refused, not written
    assert produce(states, plog, batch(1, 20)) == 22
    plog.close()


def test_a_follower_append_is_caught_up_from_the_log(plog) -> None:
    states = ProducerStates()
    produce(states, plog, batch(1, 0))
    # Batches appended as a follower (offsets kept, no admission), then this broker leads again.
    plog.append(
        build_batch([(None, b"x", None, 0)] * 2, base_offset=2, producer_id=1, producer_epoch=0, base_sequence=2),
        assign_offsets=False,
    )
    assert produce(states, plog, batch(1, 2), leader_epoch=1) == 2  # known: a duplicate
    assert produce(states, plog, batch(1, 4), leader_epoch=1) == 4


def test_a_snapshot_of_a_log_since_truncated_and_rewritten_is_not_trusted(tmp_path: Path) -> None:
    directory = tmp_path / "t-0"
    plog = PartitionLog.open(directory, CONFIG)
    states = ProducerStates()
    for seq in (0, 2, 4):
        produce(states, plog, batch(1, seq))
    asyncio.run(states.snapshot([plog]))
    assert snapshot_offsets(directory) == [6]
    # As a follower: truncated to 2, then another leader's batches (another producer) up to 8.
    plog.truncate_to(2)
    plog.append(
        build_batch([(None, b"o", None, 0)] * 6, base_offset=2, producer_id=2, producer_epoch=0, base_sequence=0),
        assign_offsets=False,
    )
    plog.close()
    plog = PartitionLog.open(directory, CONFIG)
    states = ProducerStates()
    # Producer 1's batch at seq 2 was cut: it must be written again, not taken for a duplicate.
    assert produce(states, plog, batch(1, 2)) == 8
    assert produce(states, plog, batch(2, 0, count=6)) == 2  # producer 2 is known from the log
    assert not snapshot_path(directory, 6).exists()
    plog.close()


def test_snapshots_above_the_log_end_are_dropped_and_only_two_are_kept(tmp_path: Path) -> None:
    directory = tmp_path / "t-0"
    plog = PartitionLog.open(directory, CONFIG)
    states = ProducerStates()
    for seq in (0, 2, 4):
        produce(states, plog, batch(1, seq))
        asyncio.run(states.snapshot([plog]))
    assert snapshot_offsets(directory) == [6, 4]
    asyncio.run(states.snapshot([plog]))  # unchanged: nothing written
    assert snapshot_offsets(directory) == [6, 4]
    plog.truncate_to(4)  # an unflushed tail lost in a crash
    plog.close()
    plog = PartitionLog.open(directory, CONFIG)
    states = ProducerStates()
    assert produce(states, plog, batch(1, 2)) == 2  # from the snapshot at 4
    assert produce(states, plog, batch(1, 4)) == 4  # written again: it was lost
    assert snapshot_offsets(directory) == [4]
    plog.close()


def test_expired_producers_are_forgotten_and_stay_forgotten_after_a_restart(tmp_path: Path) -> None:
    directory = tmp_path / "t-0"
    plog = PartitionLog.open(directory, CONFIG)
    states = ProducerStates()
    produce(states, plog, batch(1, 0))  # timestamps 1000, 1001
    asyncio.run(states.snapshot([plog]))
    states.expire(now_ms=1001 + 10_000, max_idle_ms=10_000)
    asyncio.run(states.snapshot([plog]))  # rewritten without it
    plog.close()
    plog = PartitionLog.open(directory, CONFIG)
    with pytest.raises(SequenceRefusedError) as unknown:
        produce(ProducerStates(), plog, batch(1, 2))
    assert unknown.value.code is ErrorCode.UNKNOWN_PRODUCER_ID
    plog.close()


def test_the_registry_lets_a_closed_log_go(tmp_path: Path) -> None:
    plog = PartitionLog.open(tmp_path / "t-0", CONFIG)
    states = ProducerStates()
    produce(states, plog, batch(1, 0))
    plog.close()
    gone = weakref.ref(plog)
    del plog
    gc.collect()
    assert gone() is None and not list(states._parts)


def test_without_a_snapshot_only_the_last_two_segments_are_replayed(tmp_path: Path) -> None:
    directory = tmp_path / "t-0"
    plog = PartitionLog.open(directory, LogConfig(segment_bytes=128))  # one batch per segment
    states = ProducerStates()
    produce(states, plog, batch(1, 0))  # producer 1: only in old segments
    for seq in range(0, 8, 2):
        produce(states, plog, batch(2, seq))
    assert len(plog.segments) > 3
    plog.close()
    plog = PartitionLog.open(directory, LogConfig(segment_bytes=128))
    states = ProducerStates()
    assert produce(states, plog, batch(2, 6)) == 8  # in the last two segments: known
    with pytest.raises(SequenceRefusedError) as unknown:
        produce(states, plog, batch(1, 2))
    assert unknown.value.code is ErrorCode.UNKNOWN_PRODUCER_ID
    plog.close()
