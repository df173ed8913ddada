"""PartitionLog behaviour one feature at a time: offsets, reads, follower appends, limits,
bad input, timestamps, retention, truncation, flushing from a thread, sendfile slices."""

from __future__ import annotations

import os
import socket
import struct
import threading
from pathlib import Path

import pytest

from broker.log import (
    CorruptBatchError,
    InvalidAppendOffsetError,
    LogConfig,
    OffsetOutOfRangeError,
    PartitionLog,
    RecordTooLargeError,
)
from client.protocol.record_batch import HEADER_SIZE, build_batch, read_header
from tests.broker_log.helpers import batches_in, make_batch

SMALL = LogConfig(segment_bytes=2000, index_interval_bytes=200)


def filled(tmp_path: Path, n: int = 50, config: LogConfig = SMALL, count: int = 3) -> PartitionLog:
    plog = PartitionLog.open(tmp_path / "t-0", config)
    for i in range(n):
        plog.append(make_batch(count, 1000 + i * 10, i))
    return plog


def test_append_assigns_consecutive_offsets_and_rolls(tmp_path: Path) -> None:
    plog = filled(tmp_path)
    assert plog.log_end_offset == 150
    bases = [s.base_offset for s in plog.segments]
    assert len(bases) > 3 and bases[0] == 0 and bases == sorted(bases)
    assert all(s.size <= SMALL.segment_bytes for s in plog.segments)
    names = sorted(p.name for p in (tmp_path / "t-0").glob("*.log"))
    assert names == [f"{b:020d}.log" for b in bases]


def test_every_offset_reads_from_the_batch_holding_it(tmp_path: Path) -> None:
    plog = filled(tmp_path)
    for offset in range(plog.log_end_offset):
        with plog.read(offset, 1) as piece:
            ((base, last, values),) = batches_in(piece.read_bytes())
        assert base <= offset <= last and last - base == 2
        assert values[0].startswith(b"%d-0-" % (base // 3))


def test_read_returns_whole_batches_within_max_bytes_and_below_max_offset(tmp_path: Path) -> None:
    plog = filled(tmp_path)
    size = len(make_batch(3, 0))
    with plog.read(0, size * 3 + 5) as piece:
        assert [b[0] for b in batches_in(piece.read_bytes())] == [0, 3, 6]
    with plog.read(0, 10) as piece:  # one whole batch even if larger than max_bytes
        assert piece.length == size
    with plog.read(0, 10_000, max_offset=6) as piece:
        assert [b[0] for b in batches_in(piece.read_bytes())] == [0, 3]
    assert plog.read(6, 100, max_offset=6).length == 0
    assert plog.read(150, 100).length == 0


def test_reads_outside_the_log_are_refused(tmp_path: Path) -> None:
    plog = filled(tmp_path, n=2)
    for offset in (-1, 7):
        with pytest.raises(OffsetOutOfRangeError, match=r"outside \[0, 6\]"):
            plog.read(offset, 100)


def test_leader_epoch_is_stamped_and_cached(tmp_path: Path) -> None:
    plog = PartitionLog.open(tmp_path / "t-0", SMALL)
    plog.append(make_batch(2, 0), leader_epoch=3)
    plog.append(make_batch(2, 0), leader_epoch=5)
    with plog.read(2, 100) as piece:
        assert read_header(piece.read_bytes()).partition_leader_epoch == 5
    assert [tuple(e) for e in plog.leader_epochs.entries] == [(3, 0), (5, 2)]
    assert plog.leader_epochs.end_offset_for(3) == (3, 2)
    assert plog.leader_epochs.end_offset_for(4) == (3, 2)
    assert plog.leader_epochs.end_offset_for(5) == (5, 4)
    plog.close()
    again = PartitionLog.open(tmp_path / "t-0", SMALL)
    assert again.leader_epochs.latest_epoch == 5


def test_follower_append_keeps_offsets_and_refuses_going_back(tmp_path: Path) -> None:
    plog = PartitionLog.open(tmp_path / "t-0", SMALL)
    info = plog.append(
        build_batch([(None, b"a", None, 1)] * 2, base_offset=10, partition_leader_epoch=4), assign_offsets=False
    )
    assert (info.first_offset, info.last_offset, plog.log_end_offset) == (10, 11, 12)
    assert plog.leader_epochs.latest_epoch == 4
    with pytest.raises(InvalidAppendOffsetError, match="below the log end offset 12"):
        plog.append(build_batch([(None, b"a", None, 1)], base_offset=11), assign_offsets=False)
    assert plog.log_end_offset == 12


def test_several_concatenated_batches_in_one_append(tmp_path: Path) -> None:
    plog = PartitionLog.open(tmp_path / "t-0", SMALL)
    info = plog.append(make_batch(2, 5) + make_batch(3, 9))
    assert (info.first_offset, info.last_offset, info.max_timestamp) == (0, 4, 9)
    with plog.read(0, 10_000) as piece:
        assert [(b, last) for b, last, _ in batches_in(piece.read_bytes())] == [(0, 1), (2, 4)]


def test_batch_over_max_batch_bytes_is_refused(tmp_path: Path) -> None:
    plog = PartitionLog.open(tmp_path / "t-0", LogConfig(max_batch_bytes=200))
    with pytest.raises(RecordTooLargeError, match=r"larger than max\.message\.bytes"):
        plog.append(make_batch(10, 0))
    assert plog.log_end_offset == 0


def _flip(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value) :]


BAD_INPUTS = [
    ("truncated header", lambda b: b[: HEADER_SIZE - 1], "truncated batch header"),
    ("wrong magic", lambda b: _flip(b, 16, b"\x07"), "unknown batch magic 7"),
    ("length beyond the end", lambda b: _flip(b, 8, struct.pack(">i", len(b) + 100)), "only"),
    ("crc mismatch", lambda b: _flip(b, len(b) - 1, bytes([b[-1] ^ 1])), "crc mismatch"),
    ("negative length", lambda b: _flip(b, 8, struct.pack(">i", -5)), "below the header size"),
    ("negative record count", lambda b: _flip(b, 57, struct.pack(">i", -1)), "claims -1 records"),
    ("good batch then half a batch", lambda b: b + b[:30], "truncated batch header"),
    ("empty", lambda b: b"", "empty"),
]


@pytest.mark.parametrize("name,mutate,message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_refused_with_a_clear_error_and_nothing_written(tmp_path: Path, name, mutate, message) -> None:
    plog = filled(tmp_path, n=2)
    with pytest.raises(CorruptBatchError, match=message):
        plog.append(mutate(make_batch(3, 0)))
    assert plog.log_end_offset == 6
    assert plog.segments[-1].size == 2 * len(make_batch(3, 0))


def test_offset_for_timestamp_finds_the_first_batch_at_or_after(tmp_path: Path) -> None:
    plog = filled(tmp_path)  # batch i has timestamp 1000 + 10 i and offsets 3i..3i+2
    assert plog.offset_for_timestamp(0) == (1000, 0)
    assert plog.offset_for_timestamp(1000 + 10 * 17) == (1170, 51)
    assert plog.offset_for_timestamp(1000 + 10 * 17 - 3) == (1170, 51)
    assert plog.offset_for_timestamp(1000 + 10 * 49) == (1490, 147)
    assert plog.offset_for_timestamp(1000 + 10 * 50) is None


def test_offset_for_timestamp_is_record_precise(tmp_path: Path) -> None:
    """Kafka answers with the first record whose timestamp reaches the target, inside the
    batch that straddles it; never below the log start offset."""
    plog = PartitionLog.open(tmp_path / "p", LogConfig())
    plog.append(
        build_batch(
            [(None, b"a", None, 100), (None, b"b", None, 300), (None, b"c", None, 200), (None, b"d", None, 400)]
        )
    )
    plog.append(build_batch([(None, b"e", None, 500)]))
    assert plog.offset_for_timestamp(150) == (300, 1)  # the first record at or after 150, not the batch's base
    assert plog.offset_for_timestamp(300) == (300, 1)
    assert plog.offset_for_timestamp(301) == (400, 3)
    assert plog.offset_for_timestamp(450) == (500, 4)
    plog.delete_records_before(2)
    assert plog.offset_for_timestamp(150) == (200, 2)  # record 1 is below the log start
    assert plog.offset_for_timestamp(0) == (200, 2)


def test_retention_by_age_keeps_young_segments_and_the_active_one(tmp_path: Path) -> None:
    plog = filled(tmp_path, config=LogConfig(segment_bytes=2000, index_interval_bytes=200, retention_ms=100))
    before = plog.segments
    second_newest = max(1000 + 10 * i for i in range(50) if 3 * i < before[1].base_offset)
    assert plog.apply_retention(second_newest + 100) == 0  # exactly retention_ms old stays
    assert plog.apply_retention(second_newest + 101) == 1
    assert plog.log_start_offset == before[1].base_offset
    with pytest.raises(OffsetOutOfRangeError):
        plog.read(0, 100)
    assert plog.apply_retention(10**12) == len(before) - 2
    assert [s.base_offset for s in plog.segments] == [before[-1].base_offset]
    assert plog.log_end_offset == 150


def test_retention_by_size_deletes_oldest_while_above_the_limit(tmp_path: Path) -> None:
    config = LogConfig(segment_bytes=2000, index_interval_bytes=200, retention_ms=-1, retention_bytes=4000)
    plog = filled(tmp_path, config=config)
    assert plog.apply_retention(0) > 0
    sizes = [s.size for s in plog.segments]
    assert sum(sizes) >= 4000 > sum(sizes) - sizes[0]


@pytest.mark.parametrize("policy", ["compact", ""])
def test_retention_deletes_nothing_unless_the_policy_lists_delete(tmp_path: Path, policy: str) -> None:
    config = LogConfig(
        segment_bytes=2000, index_interval_bytes=200, retention_ms=100, retention_bytes=1, cleanup_policy=policy
    )
    plog = filled(tmp_path, config=config)
    assert plog.apply_retention(10**12) == 0 and plog.log_start_offset == 0
    plog.delete_records_before(plog.segments[1].base_offset)  # DeleteRecords still frees segments
    assert plog.apply_retention(10**12) == 1


def test_delete_records_before_moves_the_start_then_retention_drops_segments(tmp_path: Path) -> None:
    plog = filled(tmp_path, config=LogConfig(segment_bytes=2000, index_interval_bytes=200, retention_ms=-1))
    third = plog.segments[2].base_offset
    plog.delete_records_before(third + 1)
    assert plog.log_start_offset == third + 1
    assert plog.apply_retention(0) == 2
    plog.close()
    assert PartitionLog.open(tmp_path / "t-0", SMALL).log_start_offset == third + 1


def test_truncate_to_drops_later_batches_segments_and_epochs(tmp_path: Path) -> None:
    plog = PartitionLog.open(tmp_path / "t-0", SMALL)
    for i in range(50):
        plog.append(make_batch(3, i, i), leader_epoch=i // 10)
    plog.flush()
    plog.truncate_to(64)  # inside batch 63..65: that batch goes too
    assert plog.log_end_offset == 63
    assert plog.recovery_point == 63
    assert plog.leader_epochs.latest_epoch == 2 and plog.leader_epochs.end_offset_for(2) == (2, 63)
    assert all(s.base_offset < 63 for s in plog.segments)
    plog.truncate_to(60)  # epoch 2 started at 60: it goes
    assert plog.leader_epochs.latest_epoch == 1 and plog.leader_epochs.end_offset_for(1) == (1, 60)
    assert plog.append(make_batch(1, 0), leader_epoch=7).first_offset == 60
    plog.close()
    plog = PartitionLog.open(tmp_path / "t-0", SMALL)
    assert plog.log_end_offset == 61
    assert plog.leader_epochs.end_offset_for(1) == (1, 60)
    for offset in range(61):
        with plog.read(offset, 1) as piece:
            base, last, _ = batches_in(piece.read_bytes())[0]
            assert base <= offset <= last


def test_flush_policy(tmp_path: Path) -> None:
    plog = PartitionLog.open(tmp_path / "t-0", LogConfig(flush_messages=5, flush_ms=1000))
    assert not plog.flush_due(0)
    plog.append(make_batch(3, 0))
    assert not plog.flush_due(0)
    plog.append(make_batch(3, 0))
    assert plog.flush_due(1)
    plog.flush()
    assert plog.recovery_point == 6
    plog.append(make_batch(1, 0))
    assert not plog.flush_due(10) and not plog.flush_due(1009) and plog.flush_due(1010)


def test_flush_in_a_thread_while_appending(tmp_path: Path) -> None:
    plog = PartitionLog.open(tmp_path / "t-0", LogConfig(segment_bytes=5000, index_interval_bytes=100))
    stop = threading.Event()
    errors: list[BaseException] = []

    def flusher() -> None:
        try:
            for _ in range(200):
                if stop.is_set():
                    return
                plog.flush()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    thread = threading.Thread(target=flusher)
    thread.start()
    for i in range(300):
        plog.append(make_batch(2, i, i))
    stop.set()
    thread.join(timeout=30)
    assert not errors
    plog.flush()
    assert plog.recovery_point == 600
    plog.close()
    again = PartitionLog.open(tmp_path / "t-0", LogConfig(segment_bytes=5000, index_interval_bytes=100))
    assert again.log_end_offset == 600


def test_read_slice_survives_segment_deletion_and_sendfiles(tmp_path: Path) -> None:
    plog = filled(tmp_path, config=LogConfig(segment_bytes=2000, index_interval_bytes=200, retention_ms=0))
    piece = plog.read(0, 10_000)
    expected = piece.read_bytes()
    assert plog.apply_retention(10**12) > 0 and not (tmp_path / "t-0" / f"{0:020d}.log").exists()
    left, right = socket.socketpair()
    with left, right, piece:
        sent = os.sendfile(left.fileno(), piece.file.fileno(), piece.position, piece.length)
        assert sent == piece.length == len(expected)
        got = b""
        while len(got) < sent:
            got += right.recv(65536)
    assert got == expected


def test_lookup_is_one_index_probe_and_a_short_scan(tmp_path: Path) -> None:
    config = LogConfig(segment_bytes=200_000, index_interval_bytes=4096)
    plog = PartitionLog.open(tmp_path / "t-0", config)
    for i in range(600):
        plog.append(make_batch(1 + i % 7, i, i))
    batch_max = len(make_batch(7, 0))
    for seg in plog._segments:  # the index itself is under test
        index = seg.index
        assert len(index) >= seg.size // (4096 + batch_max) - 1
        for offset in range(seg.base_offset, seg.next_offset, 5):
            i = index.floor(offset - seg.base_offset)
            start = index.values[i] if i >= 0 else 0
            found = seg.locate(offset)
            assert found is not None and found.position - start <= 4096 + batch_max
