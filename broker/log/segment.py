"""`LogSegment`: one `<20-digit base offset>.log` file of whole batches and its two indexes.

The .log holds batches exactly as validated and offset-stamped, back to back, nothing
else. A segment knows where batches start (via the sparse index and a short header scan)
and never reads the clock; it decodes records only to answer a lookup by timestamp,
and then only in the one batch that straddles the time sought. Recovery of a segment (`recover`)
lives here too: it re-validates every batch after a trusted point, cuts the file at the
first bad one and rebuilds the index entries it dropped.

Files are opened through the shared `FileHandleCache` and pinned only for the duration
of a call, so a segment holds no descriptor between calls.
"""

from __future__ import annotations

import errno
import logging
import os
from bisect import bisect_left, bisect_right
from pathlib import Path
from typing import NamedTuple

from client.protocol.record_batch import (
    HEADER_SIZE,
    BatchHeader,
    CorruptBatchError,
    Record,
    decode_batch,
    read_header,
    validate_batch,
)
from storage import diskio

from .config import LogConfig
from .errors import LogCorruptionError
from .handles import FileHandleCache
from .index import OffsetIndex, TimeIndex

log = logging.getLogger(__name__)

MAX_RELATIVE_OFFSET = 2**31 - 1
IOV_MAX = 1024


class Located(NamedTuple):
    position: int
    header: BatchHeader


class TimestampAndOffset(NamedTuple):
    """A record found by time: its timestamp and offset (what ListOffsets answers)."""

    timestamp: int
    offset: int


def segment_name(base_offset: int) -> str:
    return f"{base_offset:020d}"


class LogSegment:
    def __init__(self, directory: Path, base_offset: int, handles: FileHandleCache, config: LogConfig) -> None:
        stem = directory / segment_name(base_offset)
        self.base_offset = base_offset
        self.log_path = stem.with_suffix(".log")
        self.index_path = stem.with_suffix(".index")
        self.timeindex_path = stem.with_suffix(".timeindex")
        self.handles = handles
        self.config = config
        self.size = 0
        self.next_offset: int | None = None  # None: an old segment nobody scanned since open
        self.max_timestamp = -1
        self.first_timestamp = -1
        self.bytes_since_index = 0
        self._index: OffsetIndex | None = None
        self._timeindex: TimeIndex | None = None

    def __repr__(self) -> str:
        return f"LogSegment({self.log_path.name}, size={self.size}, next_offset={self.next_offset})"

    # -- creation and loading ---------------------------------------------------------

    @classmethod
    def create(cls, directory: Path, base_offset: int, handles: FileHandleCache, config: LogConfig) -> LogSegment:
        seg = cls(directory, base_offset, handles, config)
        fd = os.open(seg.log_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        os.close(fd)
        seg._index, seg._timeindex = OffsetIndex(seg.index_path), TimeIndex(seg.timeindex_path)
        seg._index.create_file()
        seg._timeindex.create_file()
        seg.next_offset = base_offset
        return seg

    @classmethod
    def existing(cls, directory: Path, base_offset: int, handles: FileHandleCache, config: LogConfig) -> LogSegment:
        seg = cls(directory, base_offset, handles, config)
        seg.size = seg.log_path.stat().st_size
        return seg

    def _load_indexes(self) -> bool:
        """Load both index files; False if either was missing, torn or out of order."""
        index, ok1 = OffsetIndex.load(self.index_path)
        timeindex, ok2 = TimeIndex.load(self.timeindex_path)
        self._index, self._timeindex = index, timeindex
        sane = not index or index.values[-1] < self.size
        return ok1 and ok2 and sane

    @property
    def index(self) -> OffsetIndex:
        if self._index is None:
            self._ensure_indexes()
        return self._index  # type: ignore[return-value]  # _ensure_indexes() has just set it

    @property
    def timeindex(self) -> TimeIndex:
        if self._timeindex is None:
            self._ensure_indexes()
        return self._timeindex  # type: ignore[return-value]  # _ensure_indexes() has just set it

    def _ensure_indexes(self) -> None:
        """Lazy load of an old segment's indexes; rebuilt from the log if inconsistent.

        A short header scan from the last indexed batch to the end finds the segment's
        true end and largest timestamp even if its final time-index entry never reached
        the disk; that entry is then written.
        """
        if not self._load_indexes():
            log.warning("%s: index missing or inconsistent, rebuilding it from the log", self.log_path)
            self._rebuild(trusted_below=2**63 - 1)
            self.seal()
            self.write_indexes(len(self.index), len(self.timeindex))
            return
        index, timeindex = self.index, self.timeindex
        self.max_timestamp = timeindex.keys[-1] if timeindex else -1
        pos, next_offset = (index.values[-1] if index else 0), self.base_offset
        with self.handles.pinned(self.log_path) as fd:
            while pos < self.size:
                header = self._header_at(fd, pos)
                self.max_timestamp = max(self.max_timestamp, header.max_timestamp)
                next_offset = header.last_offset + 1
                pos += header.size
        self.next_offset = next_offset
        if self.next_offset > self.base_offset:
            self.seal()
            timeindex.write_pending(len(timeindex))

    # -- recovery ---------------------------------------------------------------------

    def recover(self, trusted_below: int) -> int:
        """Re-validate the batches from the last indexed batch below `trusted_below` on.

        Cuts the file at the first invalid batch and returns the bytes cut. An invalid
        batch below `trusted_below` (fsynced data) raises `LogCorruptionError` instead.
        """
        if not self._load_indexes():
            log.warning("%s: index missing or inconsistent, rebuilding it from the log", self.log_path)
            return self._rebuild(trusted_below)
        index, timeindex = self.index, self.timeindex
        i = index.below(trusted_below - self.base_offset)
        if i < 0:
            return self._rebuild(trusted_below)
        with self.handles.pinned(self.log_path) as fd:
            pos = index.values[i]
            header = self._header_at(fd, pos)
            _, reason = self._check_batch(fd, pos, os.fstat(fd).st_size, header.base_offset)
        if reason is not None:  # the batch we resume after is below the recovery point
            raise LogCorruptionError(
                f"{self.log_path}: batch at byte {pos} is below the recovery point "
                f"{trusted_below} but invalid: {reason}. Delete the partition directory "
                f"to re-replicate it"
            )
        if header.last_offset - self.base_offset != index.keys[i]:
            log.warning("%s: index entry %d disagrees with the log, rebuilding", self.log_path, i)
            return self._rebuild(trusted_below)
        index.truncate_entries(i + 1)
        kept = bisect_right(timeindex.values, index.keys[i])
        timeindex.truncate_entries(kept)
        self.max_timestamp = timeindex.keys[kept - 1] if kept else -1
        self.bytes_since_index = header.size
        self._read_first_timestamp()
        return self._scan(pos + header.size, header.last_offset + 1, trusted_below)

    def _rebuild(self, trusted_below: int) -> int:
        self._index, self._timeindex = OffsetIndex(self.index_path), TimeIndex(self.timeindex_path)
        self._index.create_file()
        self._timeindex.create_file()
        self.max_timestamp, self.bytes_since_index = -1, 0
        self._read_first_timestamp()
        return self._scan(0, self.base_offset, trusted_below)

    def _read_first_timestamp(self) -> None:
        self.first_timestamp = -1
        if self.size >= HEADER_SIZE:
            with self.handles.pinned(self.log_path) as fd:
                try:
                    self.first_timestamp = read_header(os.pread(fd, HEADER_SIZE, 0)).max_timestamp
                except CorruptBatchError:
                    pass  # the scan finds and reports it

    def _scan(self, pos: int, next_offset: int, trusted_below: int) -> int:
        with self.handles.pinned(self.log_path) as fd:
            file_size = os.fstat(fd).st_size
            while pos < file_size:
                header, reason = self._check_batch(fd, pos, file_size, next_offset)
                if reason is not None:
                    if next_offset < trusted_below:
                        raise LogCorruptionError(
                            f"{self.log_path}: batch at byte {pos} (offset {next_offset}) is below the recovery "
                            f"point {trusted_below} but invalid: {reason}. Delete the partition directory to "
                            f"re-replicate it"
                        )
                    log.warning(
                        "%s: truncating %d bytes from byte %d (offset %d on): %s",
                        self.log_path,
                        file_size - pos,
                        pos,
                        next_offset,
                        reason,
                    )
                    os.ftruncate(fd, pos)
                    os.fsync(fd)
                    break
                assert header is not None
                self._index_batch(header.last_offset, header.max_timestamp, header.size, pos)
                pos += header.size
                next_offset = header.last_offset + 1
            cut = file_size - pos
        self.size, self.next_offset = pos, next_offset
        return cut

    def _check_batch(
        self, fd: int, pos: int, file_size: int, next_offset: int
    ) -> tuple[BatchHeader | None, str | None]:
        if file_size - pos < HEADER_SIZE:
            return None, f"torn batch header ({file_size - pos} bytes)"
        try:
            header = read_header(os.pread(fd, HEADER_SIZE, pos))
        except CorruptBatchError as e:
            return None, str(e)
        if header.size > file_size - pos:
            return None, f"batch of {header.size} bytes runs past the end of the file"
        if header.base_offset < next_offset:
            return None, f"base offset {header.base_offset} goes backwards (expected >= {next_offset})"
        if header.last_offset - self.base_offset > MAX_RELATIVE_OFFSET:
            return None, f"last offset {header.last_offset} does not fit this segment's index"
        try:
            validate_batch(os.pread(fd, header.size, pos))
        except CorruptBatchError as e:
            return None, str(e)
        return header, None

    # -- appending --------------------------------------------------------------------

    def _index_batch(self, last_offset: int, max_timestamp: int, size: int, pos: int) -> None:
        if max_timestamp > self.max_timestamp:
            self.max_timestamp = max_timestamp
        if self.first_timestamp < 0 and pos == 0:
            self.first_timestamp = max_timestamp
        if self.bytes_since_index > self.config.index_interval_bytes:
            index, timeindex = self.index, self.timeindex
            index.append(last_offset - self.base_offset, pos)
            if not timeindex or self.max_timestamp > timeindex.keys[-1]:
                timeindex.append(self.max_timestamp, last_offset - self.base_offset)
            self.bytes_since_index = 0
        self.bytes_since_index += size

    def append(self, buffers: list, batches: list[tuple[int, int, int]]) -> None:
        """Write `buffers` at the end; `batches` lists (last_offset, max_timestamp, size)."""
        total = sum(b[2] for b in batches)
        fd = self.handles.acquire(self.log_path)  # not `pinned`: this is the hot path
        try:
            pos = self.size
            for i in range(0, len(buffers), IOV_MAX):
                chunk = buffers[i : i + IOV_MAX]
                written = diskio.pwritev(fd, chunk, pos)
                if written != (want := sum(map(len, chunk))):
                    os.ftruncate(fd, self.size)
                    raise OSError(
                        errno.ENOSPC,
                        f"short write ({written} of {want} bytes): the disk is full; nothing of this append is kept",
                        str(self.log_path),
                    )
                pos += written
        finally:
            self.handles.release(self.log_path)
        pos = self.size
        for last_offset, max_timestamp, size in batches:
            self._index_batch(last_offset, max_timestamp, size, pos)
            pos += size
        self.size += total
        self.next_offset = batches[-1][0] + 1

    def seal(self) -> None:
        """On roll: a last time-index entry so the segment's max timestamp is on disk."""
        timeindex = self.timeindex
        if (
            self.next_offset is not None
            and self.next_offset > self.base_offset
            and (not timeindex or self.max_timestamp > timeindex.keys[-1])
        ):
            timeindex.append(self.max_timestamp, self.next_offset - 1 - self.base_offset)

    def largest_timestamp(self) -> int:
        """The largest batch max timestamp in the segment (-1 if none), loading indexes if needed."""
        self.timeindex  # noqa: B018 - loads an old segment's indexes, which sets max_timestamp
        return self.max_timestamp

    # -- lookups ----------------------------------------------------------------------

    def _header_at(self, fd: int, pos: int) -> BatchHeader:
        try:
            return read_header(os.pread(fd, HEADER_SIZE, pos))
        except CorruptBatchError as e:
            raise LogCorruptionError(
                f"{self.log_path}: {e}; the segment is damaged, delete the partition directory to re-replicate it"
            ) from None

    def locate(self, offset: int, start: int = 0, end: int | None = None) -> Located | None:
        """The first batch at or after `start` whose last offset >= `offset`, or None."""
        end = self.size if end is None else end
        index = self.index
        i = index.floor(offset - self.base_offset)
        pos = max(start, index.values[i] if i >= 0 else 0)
        with self.handles.pinned(self.log_path) as fd:
            while pos < end:
                header = self._header_at(fd, pos)
                if header.last_offset >= offset:
                    return Located(pos, header)
                pos += header.size
        return None

    def span(self, pos: int, end: int, max_bytes: int, max_offset: int | None) -> int:
        """Bytes of whole batches from `pos`: at least one, within max_bytes, below max_offset."""
        length = 0
        with self.handles.pinned(self.log_path) as fd:
            while pos + length < end:
                header = self._header_at(fd, pos + length)
                if max_offset is not None and header.last_offset >= max_offset:
                    break
                if length and length + header.size > max_bytes:
                    break
                length += header.size
                if length >= max_bytes:
                    break
        return length

    def find_timestamp(self, timestamp: int, start_offset: int) -> TimestampAndOffset | None:
        """The first record at or after `start_offset` whose timestamp >= `timestamp`
        (Kafka's rule): the time index and batch headers find the first batch whose max
        timestamp reaches it, and only that batch's records are decoded."""
        timeindex = self.timeindex
        i = timeindex.below(timestamp)
        start = 0
        if i >= 0:
            found = self.locate(self.base_offset + timeindex.values[i] + 1)
            if found is None:
                return None
            start = found.position
        with self.handles.pinned(self.log_path) as fd:
            pos = start
            while pos < self.size:
                header = self._header_at(fd, pos)
                if header.max_timestamp >= timestamp and header.last_offset >= start_offset:
                    for record in self._records_at(fd, pos, header):
                        if record.timestamp >= timestamp and record.offset >= start_offset:
                            return TimestampAndOffset(record.timestamp, record.offset)
                pos += header.size
        return None

    def _records_at(self, fd: int, pos: int, header: BatchHeader) -> list[Record]:
        try:
            return decode_batch(os.pread(fd, header.size, pos))
        except CorruptBatchError as e:
            raise LogCorruptionError(
                f"{self.log_path}: batch at byte {pos}: {e}; the segment is damaged, delete "
                f"the partition directory to re-replicate it"
            ) from None

    # -- truncation, durability, deletion ---------------------------------------------

    def truncate_to(self, offset: int) -> None:
        """Drop the batch holding `offset` and everything after it."""
        found = self.locate(offset)
        if found is None:
            return
        pos, header = found
        with self.handles.pinned(self.log_path) as fd:
            os.ftruncate(fd, pos)
            os.fsync(fd)
        self.size = pos
        index, timeindex = self.index, self.timeindex
        index.truncate_entries(bisect_left(index.values, pos))
        timeindex.truncate_entries(bisect_left(timeindex.values, header.base_offset - self.base_offset))
        self.write_indexes(len(index), len(timeindex))
        self.recover(trusted_below=header.base_offset)

    def index_counts(self) -> tuple[int, int] | None:
        if self._index is None or self._timeindex is None:
            return None
        return len(self._index), len(self._timeindex)

    def write_indexes(self, index_count: int, timeindex_count: int, *, sync: bool = True) -> None:
        self.index.write_pending(index_count, sync=sync)
        self.timeindex.write_pending(timeindex_count, sync=sync)

    def fsync(self) -> None:
        with self.handles.pinned(self.log_path) as fd:
            diskio.fsync(fd)

    def delete(self) -> None:
        self.handles.forget(self.log_path)
        for path in (self.log_path, self.index_path, self.timeindex_path):
            path.unlink(missing_ok=True)
