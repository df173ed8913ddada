"""Log compaction (`cleanup.policy=compact`): keep only the latest record per key.

What a pass does, on one partition log:
- It looks only at closed segments (never the active one) that are wholly below the
  recovery point (fsynced) and below the high watermark the caller passes (committed:
  a replica could otherwise drop a committed value that a record it later truncates
  had superseded), builds a map key -> offset of the key's latest record
  over them, and rewrites each segment keeping a keyed record only if it is that
  latest one. Keyless records are kept (they cannot be superseded).
- A tombstone (value None) that is the latest for its key is kept for
  `delete_retention_ms` after its timestamp, so a consumer that reads the topic from
  the start in that window still sees the delete; then it is dropped too.
- Offsets never change: a rewritten batch keeps its base offset, its last offset delta
  (so the next batch still follows), its epoch, producer fields and timestamps; only
  the records inside are fewer. A batch left with no record is dropped, which leaves
  a gap in offsets that readers skip over; a segment may become empty.

Crash-safe swap, per segment (`<base>` is the 20-digit base offset):

    1. write `<base>.log.cleaned`, fsync it
    2. rename it to `<base>.log.swap`, fsync the directory   <- the commit point
    3. delete `<base>.index` / `<base>.timeindex` (rebuilt lazily from the new file)
    4. rename `<base>.log.swap` over `<base>.log`, fsync the directory

`recover_swap_files` (called when a log directory is opened) deletes a `.cleaned` left
by a crash before step 2 (the old segment is intact) and finishes steps 3-4 for a
`.swap` (the new segment is complete). So a crash at any point leaves either the old
or the new segment, both valid and holding the same latest value per key.

This module must never touch the active segment, never change an offset and never
read the clock (time comes in as `now_ms`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from client.protocol.record_batch import COMPRESSION_MASK, BatchHeader, Record, decode_batch, iter_batches, pack_batch
from client.protocol.records import encode_records
from storage import diskio

from .checkpoint import fsync_dir
from .segment import LogSegment

log = logging.getLogger(__name__)

CLEANED_SUFFIX = ".cleaned"
SWAP_SUFFIX = ".swap"
COMPACT = "compact"


@dataclass(frozen=True)
class CompactionResult:
    segments_rewritten: int = 0
    records_removed: int = 0
    bytes_before: int = 0
    bytes_after: int = 0


# ---- the pure part: which records survive -------------------------------------------


def latest_offsets(batches: list[tuple[BatchHeader, list[Record]]]) -> dict[bytes, int]:
    """key -> offset of its latest record among `batches` (given in offset order)."""
    latest: dict[bytes, int] = {}
    for _, records in batches:
        for r in records:
            if r.key is not None:
                latest[bytes(r.key)] = r.offset
    return latest


def survives(record: Record, latest: dict[bytes, int], now_ms: int, delete_retention_ms: int) -> bool:
    if record.key is None:
        return True
    if latest.get(bytes(record.key), record.offset) != record.offset:
        return False  # a later record has this key
    if record.value is None:
        return record.timestamp + delete_retention_ms > now_ms  # a tombstone lives a while, then goes
    return True


def rebuild_batch(header: BatchHeader, kept: list[Record]) -> bytes:
    """The batch with only `kept` records: same offsets (each record keeps its offset
    delta, the header its last offset delta), epoch, producer fields and timestamps;
    records stored uncompressed (a compacted batch is small)."""
    base, base_ts = header.base_offset, header.base_timestamp
    records = encode_records(
        [(r.key, r.value, r.headers, r.timestamp) for r in kept], base_ts, [r.offset - base for r in kept]
    )
    return pack_batch(
        records,
        base_offset=base,
        last_offset_delta=header.last_offset_delta,
        record_count=len(kept),
        attributes=header.attributes & ~COMPRESSION_MASK,
        base_timestamp=base_ts,
        max_timestamp=header.max_timestamp,
        producer_id=header.producer_id,
        producer_epoch=header.producer_epoch,
        base_sequence=header.base_sequence,
        partition_leader_epoch=header.partition_leader_epoch,
    )


def clean_segment(data: bytes, latest: dict[bytes, int], now_ms: int, delete_retention_ms: int) -> tuple[bytes, int]:
    """A segment's bytes after cleaning, and how many records were removed."""
    out, removed, pos = [], 0, 0
    for header in iter_batches(data):
        records = decode_batch(data, pos)
        kept = [r for r in records if survives(r, latest, now_ms, delete_retention_ms)]
        removed += len(records) - len(kept)
        if len(kept) == len(records):
            out.append(data[pos : pos + header.size])
        elif kept:
            out.append(rebuild_batch(header, kept))
        pos += header.size
    return b"".join(out), removed


def decode_segment(data: bytes) -> list[tuple[BatchHeader, list[Record]]]:
    out, pos = [], 0
    for header in iter_batches(data):
        out.append((header, decode_batch(data, pos)))
        pos += header.size
    return out


# ---- the files ----------------------------------------------------------------------


def _write_swap(segment: LogSegment, data: bytes) -> Path:
    """Steps 1-2: the cleaned bytes durable under the swap name."""
    cleaned = segment.log_path.with_name(segment.log_path.name + CLEANED_SUFFIX)
    swap = segment.log_path.with_name(segment.log_path.name + SWAP_SUFFIX)
    fd = os.open(cleaned, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        diskio.write_all(fd, data)
        diskio.fsync(fd)
    finally:
        os.close(fd)
    os.replace(cleaned, swap)
    fsync_dir(segment.log_path.parent)
    return swap


def finish_swap(swap: Path) -> None:
    """Steps 3-4: drop the old indexes, put the cleaned file in the segment's place."""
    log_path = swap.with_name(swap.name[: -len(SWAP_SUFFIX)])
    for suffix in (".index", ".timeindex"):
        log_path.with_suffix(suffix).unlink(missing_ok=True)
    os.replace(swap, log_path)
    fsync_dir(log_path.parent)


def recover_swap_files(directory: Path) -> None:
    """On open: discard unfinished cleanings, complete committed swaps."""
    for path in sorted(directory.iterdir()):
        if path.name.endswith(".log" + CLEANED_SUFFIX):
            log.info("%s: deleting unfinished compaction output %s", directory, path.name)
            path.unlink(missing_ok=True)
        elif path.name.endswith(".log" + SWAP_SUFFIX):
            log.info("%s: completing the compaction swap of %s", directory, path.name)
            finish_swap(path)


def compact(
    plog,
    now_ms: int,
    delete_retention_ms: int,  # plog: PartitionLog
    limit: int | None = None,
) -> CompactionResult:
    """One compaction pass over `plog`'s closed, flushed segments wholly below `limit`
    (the partition's high watermark: a replica must never clean with records it may yet
    truncate away, or it would drop a committed value a truncated one had superseded).

    Safe from a worker thread: it holds the log's flush lock throughout (so no flush,
    retention or truncation touches these files meanwhile) and its state lock only
    while swapping a segment in. Appends to the active segment go on meanwhile."""
    with plog._flush_lock:
        with plog._lock:
            if plog._closed:
                return CompactionResult()
            segments = plog._segments
            bound = plog.recovery_point if limit is None else min(plog.recovery_point, limit)
            candidates = [
                s for s, successor in pairwise(segments) if successor.base_offset <= bound
            ]  # closed, fsynced, committed
        if not candidates:
            return CompactionResult()
        contents = []
        for seg in candidates:
            with plog._handles.pinned(seg.log_path) as fd:
                contents.append(os.pread(fd, seg.size, 0))
        latest = latest_offsets([b for data in contents for b in decode_segment(data)])
        rewritten = removed = before = after = 0
        for seg, data in zip(candidates, contents, strict=True):
            cleaned, gone = clean_segment(data, latest, now_ms, delete_retention_ms)
            if not gone:
                continue
            swap = _write_swap(seg, cleaned)
            with plog._lock:
                if plog._closed:
                    return CompactionResult(rewritten, removed, before, after)
                plog._handles.forget(seg.log_path)
                finish_swap(swap)
                fresh = LogSegment.existing(seg.log_path.parent, seg.base_offset, plog._handles, plog.config)
                fresh._rebuild(trusted_below=2**63 - 1)  # indexes for the new file; a bad batch raises
                fresh.seal()
                fresh.write_indexes(len(fresh.index), len(fresh.timeindex))
                plog._segments[plog._segments.index(seg)] = fresh
                plog._dirty.discard(seg)
            rewritten, removed = rewritten + 1, removed + gone
            before, after = before + len(data), after + len(cleaned)
    if rewritten:
        log.info(
            "%s: compaction rewrote %d segment(s), removed %d record(s), %d -> %d bytes",
            plog.directory.name,
            rewritten,
            removed,
            before,
            after,
        )
    return CompactionResult(rewritten, removed, before, after)
