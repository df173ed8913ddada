"""Log compaction (broker/log/compaction.py) against a dict model, and its crash-safe swap.

The model: folding a log into a dict (a tombstone deletes its key) must give the same
dict before and after compaction, except for tombstones past delete.retention.ms, which
leave the key absent either way. Offsets and record contents never change; in the
cleaned segments every key appears at most once; the active segment is untouched.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from broker.log import LogConfig, PartitionLog
from broker.log.compaction import CLEANED_SUFFIX, _write_swap, compact, decode_segment
from client.protocol.record_batch import Record, build_batch, decode_batch, iter_batches

RETENTION = 1000
NOW = 100_000


def read_all(plog: PartitionLog) -> list[Record]:
    out: list[Record] = []
    offset = plog.log_start_offset
    while offset < plog.log_end_offset:
        with plog.read(offset, 1 << 20) as chunk:
            data = chunk.read_bytes()
        if not data:
            break
        pos = 0
        for header in iter_batches(data):
            out += [r for r in decode_batch(data, pos) if r.offset >= offset]
            pos += header.size
            offset = header.last_offset + 1
    return out


def fold(records: list[Record]) -> dict[bytes, bytes]:
    model: dict[bytes, bytes] = {}
    for r in records:
        if r.key is None:
            continue
        if r.value is None:
            model.pop(r.key, None)
        else:
            model[r.key] = r.value
    return model


keys = st.sampled_from([b"a", b"b", b"c", b"d", None])
records = st.tuples(
    keys,
    st.one_of(st.none(), st.binary(min_size=1, max_size=8)),
    st.integers(min_value=NOW - 3 * RETENTION, max_value=NOW),
)
batches = st.lists(st.lists(records, min_size=1, max_size=4), min_size=1, max_size=30)


def open_log(directory: Path) -> PartitionLog:
    return PartitionLog.open(
        directory,
        LogConfig(
            segment_bytes=400,
            index_interval_bytes=64,
            retention_ms=-1,
            cleanup_policy="compact",
            delete_retention_ms=RETENTION,
        ),
    )


def fill(plog: PartitionLog, spec: list[list[tuple]]) -> None:
    for batch in spec:
        plog.append(build_batch([(k, v, None, ts) for k, v, ts in batch]))
    plog.flush()


@settings(max_examples=60, deadline=None)
@given(batches)
def test_compaction_keeps_the_latest_value_per_key_and_every_offset(spec) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plog = open_log(Path(tmp) / "t-0")
        fill(plog, spec)
        before = read_all(plog)
        active_base = plog.segments[-1].base_offset
        compact(plog, NOW, RETENTION)
        after = read_all(plog)
        by_offset = {r.offset: r for r in before}
        assert all(by_offset[r.offset] == r for r in after)  # nothing altered, no offset moved
        assert [r.offset for r in after] == sorted({r.offset for r in after})
        assert [r for r in before if r.offset >= active_base] == [r for r in after if r.offset >= active_base]
        cleaned = [r for r in after if r.offset < active_base and r.key is not None]
        assert len({r.key for r in cleaned}) == len(cleaned)  # one record per key at most
        assert all(r.value is not None or r.timestamp + RETENTION > NOW for r in cleaned)  # old tombstones gone
        assert fold(after) == fold(before)  # the dict model agrees
        assert [r for r in before if r.key is None] == [r for r in after if r.key is None]
        plog.close()
        reopened = open_log(Path(tmp) / "t-0")  # indexes rebuilt from the new files
        assert read_all(reopened) == after
        assert reopened.log_end_offset == plog.log_end_offset
        reopened.close()


def test_a_crash_before_the_swap_commit_keeps_the_old_segment(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "t-0")
    fill(plog, [[(b"k", b"v%d" % i, NOW)] for i in range(40)])
    before = read_all(plog)
    first = plog._segments[0]
    leftover = first.log_path.with_name(first.log_path.name + CLEANED_SUFFIX)
    leftover.write_bytes(b"half-written garbage")
    plog.close()
    reopened = open_log(tmp_path / "t-0")
    assert not leftover.exists()
    assert read_all(reopened) == before
    reopened.close()


def test_a_crash_after_the_swap_commit_finishes_the_swap(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "t-0")
    fill(plog, [[(b"k", b"v%d" % i, NOW)] for i in range(40)])
    first = plog._segments[0]
    data = first.log_path.read_bytes()
    kept = decode_segment(data)[-1]  # pretend: only the last batch stays
    swap = _write_swap(first, data[len(data) - kept[0].size :])
    plog.close()
    assert swap.exists()
    reopened = open_log(tmp_path / "t-0")
    assert not swap.exists()
    records = read_all(reopened)
    assert records[0].offset == kept[0].base_offset  # the new segment is in place
    assert [r.offset for r in records] == sorted(r.offset for r in records)
    reopened.close()


def test_the_active_segment_and_unflushed_or_uncommitted_segments_are_never_compacted(tmp_path: Path) -> None:
    plog = open_log(tmp_path / "t-0")
    for i in range(40):
        plog.append(build_batch([(b"k", b"v%d" % i, None, NOW)]))  # never flushed
    assert compact(plog, NOW, RETENTION).segments_rewritten == 0
    assert len(read_all(plog)) == 40
    plog.flush()
    assert compact(plog, NOW, RETENTION, limit=0).segments_rewritten == 0  # nothing committed yet (HW 0)
    result = compact(plog, NOW, RETENTION, limit=plog.log_end_offset)
    assert result.segments_rewritten > 0 and result.records_removed > 0
    assert [r.value for r in read_all(plog)][-1] == b"v39"
    plog.close()
