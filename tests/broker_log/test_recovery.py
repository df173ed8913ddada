"""Opening a log after damage: torn tails, garbage, flipped bits, lost or broken index
files, leftovers; and corruption below the recovery point, which is refused loudly."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from broker.log import LogConfig, LogCorruptionError, PartitionLog
from tests.broker_log.helpers import batches_in, make_batch

CONFIG = LogConfig(segment_bytes=3000, index_interval_bytes=300)
BATCH = len(make_batch(3, 0))


def build(tmp_path: Path, n: int = 60, flush_at: int | None = None) -> Path:
    """n batches of 3 records (offsets 3i..3i+2); fsynced up to batch `flush_at`."""
    plog = PartitionLog.open(tmp_path / "t-0", CONFIG)
    for i in range(n):
        plog.append(make_batch(3, 1000 + i, i))
        if i + 1 == flush_at:
            plog.flush()
    plog._handles.close()  # a crash: no close, no final flush
    return tmp_path / "t-0"


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.log"))


def assert_consistent(plog: PartitionLog) -> None:
    """Every offset reads from its own batch; every index entry points at its batch."""
    for offset in range(plog.log_start_offset, plog.log_end_offset):
        with plog.read(offset, 1) as piece:
            ((base, last, values),) = batches_in(piece.read_bytes())
        assert base <= offset <= last and values[0].startswith(b"%d-0-" % (base // 3))
    for seg in plog._segments:  # the index is what this test is about
        for key, pos in zip(seg.index.keys, seg.index.values, strict=True):
            found = seg.locate(seg.base_offset + key)
            assert found is not None and found.position == pos


def test_clean_reopen_keeps_everything(tmp_path: Path) -> None:
    plog = PartitionLog.open(tmp_path / "t-0", CONFIG)
    for i in range(60):
        plog.append(make_batch(3, 1000 + i, i))
    plog.flush()
    plog.close()
    plog = PartitionLog.open(tmp_path / "t-0", CONFIG)
    assert plog.log_end_offset == plog.recovery_point == 180
    assert_consistent(plog)


@pytest.mark.parametrize("tail", [b"\x00" * 40, b"garbage!" * 100, "half"], ids=["zeros", "garbage", "half"])
def test_torn_or_garbage_tail_is_cut_and_logged(tmp_path: Path, caplog, tail) -> None:
    directory = build(tmp_path, flush_at=30)
    last = segments(directory)[-1]
    with open(last, "ab") as f:
        f.write(make_batch(3, 0, 999)[: BATCH // 2] if tail == "half" else tail)
    with caplog.at_level(logging.WARNING):
        plog = PartitionLog.open(directory, CONFIG)
    assert plog.log_end_offset == 180
    assert "truncating" in caplog.text and last.name in caplog.text
    assert last.stat().st_size == plog.segments[-1].size, "the bad tail is cut from the file"
    assert_consistent(plog)


def test_flipped_bit_after_the_recovery_point_cuts_there_and_drops_later_segments(tmp_path: Path) -> None:
    directory = build(tmp_path, flush_at=10)
    files = segments(directory)
    victim = files[len(files) // 2]
    data = bytearray(victim.read_bytes())
    data[BATCH + 70] ^= 0x10  # inside the second batch's records: only the crc notices
    victim.write_bytes(data)
    plog = PartitionLog.open(directory, CONFIG)
    assert plog.log_end_offset == int(victim.stem) + 3
    assert [p.name for p in segments(directory)][-1] == victim.name
    assert_consistent(plog)


def test_corruption_below_the_recovery_point_is_refused(tmp_path: Path) -> None:
    directory = build(tmp_path, flush_at=60)
    last = segments(directory)[-1]
    data = bytearray(last.read_bytes())
    data[-5] ^= 0x01
    last.write_bytes(data)
    with pytest.raises(LogCorruptionError, match="below the recovery point 180 but invalid: crc mismatch"):
        PartitionLog.open(directory, CONFIG)


def test_damaged_header_in_an_old_segment_is_refused_when_read(tmp_path: Path) -> None:
    directory = build(tmp_path, flush_at=60)
    first = segments(directory)[0]
    data = bytearray(first.read_bytes())
    data[BATCH * 2 + 16] = 9  # magic of the third batch
    first.write_bytes(data)
    plog = PartitionLog.open(directory, CONFIG)
    with pytest.raises(LogCorruptionError, match="unknown batch magic 9"):
        plog.read(7, 100)


@pytest.mark.parametrize("damage", ["delete", "garbage", "truncate"])
def test_missing_or_broken_indexes_are_rebuilt(tmp_path: Path, damage: str) -> None:
    directory = build(tmp_path, flush_at=60)
    for path in directory.glob("*index"):
        if damage == "delete":
            path.unlink()
        elif damage == "garbage":
            path.write_bytes(b"\xff\x00\x12" * 11)
        else:
            path.write_bytes(path.read_bytes()[:-3])
    plog = PartitionLog.open(directory, CONFIG)
    assert plog.log_end_offset == 180
    assert plog.offset_for_timestamp(1020).offset == 60
    assert_consistent(plog)
    assert all(len(seg.index) > 0 for seg in plog._segments[:-1])


def test_leftovers_are_removed(tmp_path: Path) -> None:
    directory = build(tmp_path, flush_at=60)
    (directory / "recovery-point-checkpoint.tmp").write_text("half")
    (directory / f"{10**6:020d}.index").write_bytes(b"\x00" * 8)
    (directory / f"{10**6:020d}.log.deleted").write_bytes(b"x")
    plog = PartitionLog.open(directory, CONFIG)
    assert plog.log_end_offset == 180
    names = {p.name for p in directory.iterdir()}
    assert not any(n.endswith((".tmp", ".deleted")) or n.startswith(f"{10**6:020d}") for n in names)


def test_log_ending_below_its_start_offset_restarts_empty_there(tmp_path: Path, caplog) -> None:
    directory = build(tmp_path, flush_at=60)
    plog = PartitionLog.open(directory, CONFIG)
    plog.delete_records_before(175)
    plog.close()
    segments(directory)[-1].unlink()  # removed by hand: fsynced data is gone
    with caplog.at_level(logging.WARNING):
        plog = PartitionLog.open(directory, CONFIG)
    assert plog.log_start_offset == plog.log_end_offset == 175
    assert "below its recovery point 180" in caplog.text
    assert plog.append(make_batch(1, 0)).first_offset == 175
