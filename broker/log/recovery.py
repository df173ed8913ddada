"""Opening a partition directory: clean up leftovers, load segments, recover after a crash.

Rules (Kafka's LogLoader, simplified; docs/storage.md has the reasoning):
- Leftover `*.tmp` / `*.deleted` files and indexes without a `.log` are deleted; an
  interrupted compaction is finished or discarded (`compaction.recover_swap_files`).
- Segments wholly below the recovery point are trusted and opened lazily.
- From the segment holding the recovery point on, every batch after the last indexed
  batch below the recovery point is re-validated (header, length, crc, offsets going
  forward). At the first invalid batch the file is cut there, later segments are
  deleted, and a warning says what was cut. An invalid batch BELOW the recovery point
  raises `LogCorruptionError`: fsynced data is never silently dropped or served.
- If what remains ends below the checkpointed log start offset, the log restarts empty
  at that offset (the files were removed by hand).
This module must never write batches; it only cuts and deletes.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from pathlib import Path

from .compaction import recover_swap_files
from .config import LogConfig
from .handles import FileHandleCache
from .segment import LogSegment

log = logging.getLogger(__name__)

_SEGMENT_NAME = re.compile(r"^(\d{20})\.log$")
_DERIVED = (".index", ".timeindex")


def segment_bases(directory: Path) -> list[int]:
    """Base offsets of the `.log` files, after deleting leftovers of interrupted work."""
    recover_swap_files(directory)  # an interrupted compaction: finish or discard it first
    bases = []
    for path in directory.iterdir():
        if path.name.endswith((".tmp", ".deleted")):
            log.info("%s: deleting leftover %s", directory, path.name)
            path.unlink(missing_ok=True)
        elif (m := _SEGMENT_NAME.match(path.name)) is not None:
            bases.append(int(m.group(1)))
    for path in directory.iterdir():
        if path.suffix in _DERIVED and not path.with_suffix(".log").exists():
            log.info("%s: deleting index %s whose segment is gone", directory, path.name)
            path.unlink(missing_ok=True)
    return sorted(bases)


def load_segments(
    directory: Path, config: LogConfig, handles: FileHandleCache, recovery_point: int, log_start_offset: int
) -> list[LogSegment]:
    bases = segment_bases(directory)
    segments = [LogSegment.existing(directory, b, handles, config) for b in bases]
    if not segments:
        return [LogSegment.create(directory, log_start_offset, handles, config)]
    first = max(bisect_right(bases, recovery_point) - 1, 0)
    for i in range(first, len(segments)):
        cut = segments[i].recover(trusted_below=recovery_point)
        if cut and i + 1 < len(segments):
            log.warning(
                "%s: deleting %d segment(s) after the cut at offset %d",
                directory,
                len(segments) - i - 1,
                segments[i].next_offset,
            )
            for seg in segments[i + 1 :]:
                seg.delete()
            del segments[i + 1 :]
            break
    for seg in segments[first:-1]:
        seg.seal()
        seg.write_indexes(len(seg.index), len(seg.timeindex))
    end = segments[-1].next_offset
    assert end is not None
    if end < recovery_point:
        log.error(
            "%s: the log ends at offset %d, below its recovery point %d: fsynced data is missing "
            "(files removed or truncated by hand?)",
            directory,
            end,
            recovery_point,
        )
    if end < log_start_offset:
        log.warning(
            "%s: the log ends at %d, below the log start offset %d: starting empty there",
            directory,
            end,
            log_start_offset,
        )
        for seg in segments:
            seg.delete()
        segments = [LogSegment.create(directory, log_start_offset, handles, config)]
    return segments
