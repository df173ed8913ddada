"""`PartitionLog`: one partition's log, a directory of segments with offsets, reads,
retention, truncation, durability and the leader-epoch cache.

Threading contract: appends, reads and truncation run on the event-loop thread;
`flush()` and `apply_retention()` may run in a worker thread at the same time. A state
lock guards the segment list and counters and is held only for in-memory work and short
reads; fsync runs outside it, under a flush lock that truncation and retention also take
so they never rewrite a file a flush is syncing.

This module must never decode records (only batch headers; the segment decodes the one
batch a lookup by timestamp lands in) and never read the clock: time comes in as `now_ms`.

A failed fsync is never forgotten ("fsyncgate": the kernel may have dropped the pages it
could not write, and a later fsync that succeeds proves nothing): the log remembers it,
refuses appends and fails every later flush with `LogStorageError`, and its recovery point
never moves again; a restart's recovery re-checks everything after the recovery point.

Every OSError of a read, write, fsync, roll, checkpoint, truncation or retention is also
handed to `on_storage_error` before it propagates: the broker decides whether the disk is
broken and takes the log's directory offline (`log_dirs.py`); the log itself never does.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import struct
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from client.protocol.record_batch import validate_batch

from . import record_format
from .checkpoint import read_checkpoint, write_checkpoint
from .config import LogConfig
from .epochs import LeaderEpochCache
from .errors import (
    CorruptBatchError,
    InvalidAppendOffsetError,
    LogError,
    LogStorageError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
)
from .handles import FileHandleCache
from .recovery import load_segments
from .segment import MAX_RELATIVE_OFFSET, LogSegment, TimestampAndOffset

log = logging.getLogger(__name__)

RECOVERY_CHECKPOINT = "recovery-point-checkpoint"
EPOCH_CHECKPOINT = "leader-epoch-checkpoint"
_PREFIX = struct.Struct(">qii")  # base_offset, batch_length, partition_leader_epoch
_PREFIX_END = 16  # magic follows


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _reports_os_errors(method: _Method) -> _Method:
    """Hand every OSError the method raises to `on_storage_error` (the broker decides
    whether the directory is broken), then raise it as before."""

    @functools.wraps(method)
    def wrapper(self: PartitionLog, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except OSError as exc:
            if self.on_storage_error is not None:
                self.on_storage_error(exc)
            raise

    return wrapper  # type: ignore[return-value]  # functools.wraps: the wrapper has the method's signature


class AppendInfo(NamedTuple):
    first_offset: int
    last_offset: int
    max_timestamp: int
    log_append_time: int | None = None  # LogAppendTime is not supported: always None


class SegmentInfo(NamedTuple):
    base_offset: int
    size: int


class ReadSlice:
    """Whole batches of a segment: `length` bytes of `file` from `position`.

    `file` is this slice's own descriptor (a dup), valid until `close()` even if the
    segment is deleted meanwhile, so it can be handed to `loop.sendfile`.
    """

    __slots__ = ("file", "position", "length")

    def __init__(self, file, position: int, length: int) -> None:
        self.file = file
        self.position = position
        self.length = length

    @classmethod
    def empty(cls) -> ReadSlice:
        return cls(None, 0, 0)

    def read_bytes(self) -> bytes:
        if self.length == 0:
            return b""
        data = os.pread(self.file.fileno(), self.length, self.position)
        if len(data) != self.length:
            raise LogError(f"segment ended after {len(data)} of {self.length} bytes (truncated meanwhile)")
        return data

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def __enter__(self) -> ReadSlice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PartitionLog:
    def __init__(
        self,
        directory: Path,
        config: LogConfig,
        handles: FileHandleCache,
        owns_handles: bool,
        segments: list[LogSegment],
        recovery_point: int,
        log_start_offset: int,
        on_storage_error: Callable[[OSError], None] | None = None,
    ) -> None:
        self.directory = directory
        self.config = config
        self._handles = handles
        self._owns_handles = owns_handles
        self._segments = segments
        self._bases = [s.base_offset for s in segments]
        self._recovery_point = min(recovery_point, self.log_end_offset)
        self._log_start = max(log_start_offset, segments[0].base_offset)
        self._lock = threading.RLock()
        self._flush_lock = threading.Lock()
        self._dirty: set[LogSegment] = {segments[-1]}  # recovery may have rebuilt index entries
        self._unflushed_messages = 0
        self._dirty_since_ms: int | None = None
        self._rolled_unflushed = False
        self._closed = False
        self._fsync_failed: OSError | None = None
        self._checkpointed = (-1, -1)  # what recovery-point-checkpoint holds
        # Told of every OSError of a read, write, fsync, roll, checkpoint or retention, from
        # whichever thread met it (the broker takes a broken directory offline).
        self.on_storage_error = on_storage_error
        self.leader_epochs = LeaderEpochCache(directory / EPOCH_CHECKPOINT, lambda: self.log_end_offset)
        self.leader_epochs.truncate_from_end(self.log_end_offset)
        self.leader_epochs.truncate_from_start(self._log_start)

    # -- opening ----------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: Path,
        config: LogConfig,
        *,
        handles: FileHandleCache | None = None,
        on_storage_error: Callable[[OSError], None] | None = None,
    ) -> PartitionLog:
        """Open (creating if needed) the log in `directory`, recovering it after a crash.
        `on_storage_error` is told of every OSError the log meets from then on."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        record_format.ensure(directory)  # never misread an older record format
        owns = handles is None
        handles = handles if handles is not None else FileHandleCache(max_open=16)
        saved = read_checkpoint(directory / RECOVERY_CHECKPOINT, 2)
        recovery_point, log_start = saved[0] if saved else (0, 0)
        segments = load_segments(directory, config, handles, recovery_point, log_start)
        plog = cls(directory, config, handles, owns, segments, recovery_point, log_start, on_storage_error)
        plog._checkpointed = (recovery_point, log_start)  # a missing file reads as (0, 0)
        if plog._checkpointed != (plog.recovery_point, plog.log_start_offset):
            plog._write_checkpoint()
        return plog

    # -- offsets ----------------------------------------------------------------------

    @property
    def log_end_offset(self) -> int:
        end = self._segments[-1].next_offset
        assert end is not None, "the active segment is always scanned"
        return end

    @property
    def log_start_offset(self) -> int:
        return self._log_start

    @property
    def recovery_point(self) -> int:
        return self._recovery_point

    @property
    def segments(self) -> list[SegmentInfo]:
        with self._lock:
            return [SegmentInfo(s.base_offset, s.size) for s in self._segments]

    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self._segments)

    def _check_open(self) -> None:
        if self._closed:
            raise LogError(f"{self.directory.name}: the log is closed")

    def _check_synced(self) -> None:
        if self._fsync_failed is not None:
            raise LogStorageError(
                f"{self.directory.name}: an fsync failed earlier ({self._fsync_failed}); what is on disk after "
                f"offset {self._recovery_point} is unknown, so this log takes no more writes. Restart the "
                f"broker once the disk is healthy (recovery re-checks the log from there)"
            )

    @property
    def storage_error(self) -> OSError | None:
        """The failed fsync this log will not forget, if any."""
        return self._fsync_failed

    # -- append -----------------------------------------------------------------------

    @_reports_os_errors
    def append(
        self, batch: bytes | bytearray | memoryview, *, leader_epoch: int | None = None, assign_offsets: bool = True
    ) -> AppendInfo:
        """Validate and append one or more concatenated batches, all or nothing.

        As leader (`assign_offsets`), base offsets are rewritten to follow the log end and
        `leader_epoch` is stamped. As follower, the batches keep their offsets, which must
        not go below the log end offset.
        """
        view = memoryview(batch)
        headers = self._validate(view)
        with self._lock:
            self._check_open()
            self._check_synced()
            plan, next_offset = [], self.log_end_offset
            for pos, header in headers:
                base = next_offset if assign_offsets else header.base_offset
                if base < next_offset:
                    raise InvalidAppendOffsetError(
                        f"{self.directory.name}: batch offset {base} is below the log end offset {next_offset}; "
                        f"truncate the replica first"
                    )
                epoch = header.partition_leader_epoch if leader_epoch is None else leader_epoch
                plan.append((pos, header, base, epoch))
                next_offset = base + header.last_offset_delta + 1
            self._write(view, plan)
            for _, _, base, epoch in plan:
                latest = self.leader_epochs.latest_epoch
                if epoch >= 0 and (latest is None or epoch > latest):
                    self.leader_epochs.assign(epoch, base)
            self._unflushed_messages += sum(h.record_count for _, h in headers)
            first = plan[0][2]
            return AppendInfo(first, next_offset - 1, max(h.max_timestamp for _, h in headers))

    def _validate(self, view: memoryview) -> list:
        if len(view) == 0:
            raise CorruptBatchError("nothing to append: the records are empty")
        headers, pos = [], 0
        while pos < len(view):
            header = validate_batch(view, pos)
            if header.size > self.config.max_batch_bytes:
                raise RecordTooLargeError(
                    f"a batch of {header.size} bytes is larger than max.message.bytes "
                    f"({self.config.max_batch_bytes}); send smaller batches or raise the topic's limit"
                )
            headers.append((pos, header))
            pos += header.size
        return headers

    def _write(self, view: memoryview, plan: list) -> None:
        buffers: list = []
        metas: list[tuple[int, int, int]] = []
        for pos, header, base, epoch in plan:
            last = base + header.last_offset_delta
            if self._should_roll(header.size, last, header.max_timestamp):
                self._flush_buffers(buffers, metas)
                self._roll_locked(base)
            end = pos + header.size
            if base != header.base_offset or epoch != header.partition_leader_epoch:
                buffers.append(_PREFIX.pack(base, header.batch_length, epoch))
                buffers.append(view[pos + _PREFIX_END : end])
            else:
                buffers.append(view[pos:end])
            metas.append((last, header.max_timestamp, header.size))
        self._flush_buffers(buffers, metas)

    def _flush_buffers(self, buffers: list, metas: list) -> None:
        if metas:
            active = self._segments[-1]
            active.append(buffers, metas)
            self._dirty.add(active)
            buffers.clear()
            metas.clear()

    def _should_roll(self, size: int, last_offset: int, max_timestamp: int) -> bool:
        active = self._segments[-1]
        if active.size == 0:
            return False
        return (
            active.size + size > self.config.segment_bytes
            or (active.first_timestamp >= 0 and max_timestamp - active.first_timestamp > self.config.segment_ms)
            or last_offset - active.base_offset > MAX_RELATIVE_OFFSET
            or len(active.index) >= self.config.max_index_entries
        )

    @_reports_os_errors
    def roll(self) -> None:
        """Start a new segment at the log end offset (no-op if the active one is empty)."""
        with self._lock:
            self._check_open()
            if self._segments[-1].size > 0:
                self._roll_locked(self.log_end_offset)

    def _roll_locked(self, base_offset: int) -> None:
        old = self._segments[-1]
        old.seal()
        self._dirty.add(old)
        self._segments.append(LogSegment.create(self.directory, base_offset, self._handles, self.config))
        self._bases.append(base_offset)
        self._rolled_unflushed = True
        log.debug("%s: rolled to a new segment at offset %d", self.directory.name, base_offset)

    # -- reads ------------------------------------------------------------------------

    @_reports_os_errors
    def read(self, offset: int, max_bytes: int, *, max_offset: int | None = None) -> ReadSlice:
        """Whole batches from the one holding `offset`: at least one batch if any exists
        below `max_offset` (exclusive, e.g. the high watermark), else up to `max_bytes`."""
        with self._lock:
            self._check_open()
            end = self.log_end_offset
            if not self._log_start <= offset <= end:
                raise OffsetOutOfRangeError(
                    f"{self.directory.name}: offset {offset} is outside [{self._log_start}, {end}]"
                )
            if offset == end or (max_offset is not None and offset >= max_offset):
                return ReadSlice.empty()
            for seg in self._segments[max(bisect_right(self._bases, offset) - 1, 0) :]:
                limit = seg.size
                found = seg.locate(offset, 0, limit)
                if found is None:
                    continue
                length = seg.span(found.position, limit, max_bytes, max_offset)
                if length == 0:
                    return ReadSlice.empty()
                with self._handles.pinned(seg.log_path) as fd:
                    file = open(os.dup(fd), "rb", buffering=0, closefd=True)  # noqa: SIM115 - the ReadSlice owns it
                return ReadSlice(file, found.position, length)
            return ReadSlice.empty()

    @_reports_os_errors
    def offset_for_timestamp(self, timestamp_ms: int) -> TimestampAndOffset | None:
        """The first record at or after the log start whose timestamp >= `timestamp_ms`
        (its offset and timestamp), or None: record-precise, as Kafka answers ListOffsets."""
        with self._lock:
            self._check_open()
            for seg in self._segments:
                if seg.largest_timestamp() >= timestamp_ms:
                    found = seg.find_timestamp(timestamp_ms, self._log_start)
                    if found is not None:
                        return found
            return None

    @_reports_os_errors
    def max_timestamp_record(self) -> TimestampAndOffset | None:
        """The first record holding the log's largest timestamp (its offset and timestamp), or
        None for an empty log: ListOffsets' MAX_TIMESTAMP (-3, KIP-734). The segments' kept
        maxima name the timestamp; the time lookup finds its first record."""
        with self._lock:
            self._check_open()
            newest = max((seg.largest_timestamp() for seg in self._segments), default=-1)
        return None if newest < 0 else self.offset_for_timestamp(newest)

    # -- truncation (replicas) --------------------------------------------------------

    @_reports_os_errors
    def truncate_to(self, offset: int) -> None:
        """Drop every batch holding an offset >= `offset` (a batch straddling `offset` goes too)."""
        with self._flush_lock, self._lock:
            self._check_open()
            if offset >= self.log_end_offset:
                return
            if offset < self._log_start:
                self._start_fresh_at(offset)
                return
            keep = max(bisect_left(self._bases, offset), 1)  # segments starting below offset
            self._drop_segments(self._segments[keep:])
            active = self._segments[-1]
            if active.next_offset is None:
                active.recover(trusted_below=self._recovery_point)
            active.truncate_to(offset)
            if self.log_end_offset < self._log_start:  # the cut batch held the log start offset
                self._start_fresh_at(self._log_start)
                return
            self._after_truncation()
            log.info("%s: truncated to offset %d (log end now %d)", self.directory.name, offset, self.log_end_offset)

    def _start_fresh_at(self, offset: int) -> None:
        self._drop_segments(self._segments[:])
        self._segments = [LogSegment.create(self.directory, offset, self._handles, self.config)]
        self._bases = [offset]
        self._log_start = offset
        self.leader_epochs.clear()
        self._after_truncation()

    def _drop_segments(self, doomed: list[LogSegment]) -> None:
        for seg in doomed:
            self._segments.remove(seg)
            self._bases.remove(seg.base_offset)
            self._dirty.discard(seg)
            seg.delete()

    def _after_truncation(self) -> None:
        end = self.log_end_offset
        self.leader_epochs.truncate_from_end(end)
        self._recovery_point = min(self._recovery_point, end)
        self._write_checkpoint()

    # -- retention --------------------------------------------------------------------

    @_reports_os_errors
    def apply_retention(self, now_ms: int) -> int:
        """Delete whole old segments by age and by total size (when cleanup.policy lists
        delete), and below the log start offset.

        Oldest first, stopping at the first segment that must stay; never the active
        segment. Returns how many segments were deleted.
        """
        with self._flush_lock:
            with self._lock:
                if self._closed:
                    return 0
                doomed = self._retention_victims(now_ms)
                for seg in doomed:
                    self._segments.remove(seg)
                    self._bases.remove(seg.base_offset)
                    self._dirty.discard(seg)
                if doomed:
                    self._log_start = max(self._log_start, self._segments[0].base_offset)
                    self.leader_epochs.truncate_from_start(self._log_start)
            for seg in doomed:
                seg.delete()
            if doomed:
                self._write_checkpoint()
        return len(doomed)

    def _retention_victims(self, now_ms: int) -> list[LogSegment]:
        config, segs = self.config, self._segments
        total = sum(s.size for s in segs)
        doomed = []
        for seg, successor in pairwise(segs):
            newest = seg.largest_timestamp()
            if newest < 0:  # no timestamps at all: fall back to the file's age
                newest = int(os.stat(seg.log_path).st_mtime * 1000)
            expired = config.deletes and config.retention_ms >= 0 and now_ms - newest > config.retention_ms
            oversize = config.deletes and config.retention_bytes >= 0 and total - seg.size >= config.retention_bytes
            below_start = successor.base_offset <= self._log_start
            if not (expired or oversize or below_start):
                break
            doomed.append(seg)
            total -= seg.size
        return doomed

    @_reports_os_errors
    def delete_records_before(self, offset: int) -> None:
        """Move the log start offset up to `offset` (Kafka's DeleteRecords); segments wholly
        below it go at the next `apply_retention`."""
        with self._lock:
            self._check_open()
            if offset > self.log_end_offset:
                raise OffsetOutOfRangeError(
                    f"{self.directory.name}: cannot delete records before {offset}, past the log end "
                    f"{self.log_end_offset}"
                )
            if offset > self._log_start:
                self._log_start = offset
                self.leader_epochs.truncate_from_start(offset)
                self._write_checkpoint()

    # -- durability -------------------------------------------------------------------

    def flush_due(self, now_ms: int) -> bool:
        """Whether flush.messages / flush.ms (or a roll) calls for a flush now. `now_ms` is
        on a monotonic clock (flush.ms is a duration; a wall-clock step must not move it)."""
        with self._lock:
            if not self._dirty:
                return False
            if self._dirty_since_ms is None:
                self._dirty_since_ms = now_ms
            config = self.config
            return (
                self._rolled_unflushed
                or (config.flush_messages is not None and self._unflushed_messages >= config.flush_messages)
                or (config.flush_ms is not None and now_ms - self._dirty_since_ms >= config.flush_ms)
            )

    @_reports_os_errors
    def flush(self) -> bool:
        """fsync every segment written since the last flush, then its new index entries,
        then advance and checkpoint the recovery point. Safe from a worker thread. False
        when there was nothing to fsync (so callers time only real flushes)."""
        with self._flush_lock:
            with self._lock:
                self._check_synced()
                target = self.log_end_offset
                if self._closed or (not self._dirty and self._recovery_point == target):
                    return False
                work = [(seg, seg.index_counts()) for seg in self._dirty]
                self._dirty = set()
                self._unflushed_messages = 0
                self._dirty_since_ms = None
                self._rolled_unflushed = False
            for seg, counts in work:
                try:
                    seg.fsync()
                except OSError as exc:
                    with self._lock:
                        self._fsync_failed = exc
                    log.critical(
                        "%s: fsync failed (%s); the log takes no more writes and its recovery point "
                        "stays at %d until a restart",
                        self.directory.name,
                        exc,
                        self._recovery_point,
                    )
                    # whatever its errno (even ENOSPC), a failed fsync is a broken log, not a full disk
                    raise LogStorageError(f"{self.directory.name}: fsync failed: {exc}") from exc
                if counts is not None:  # derived data: not fsynced, recovery rebuilds a lost tail
                    try:
                        seg.write_indexes(*counts, sync=False)
                    except OSError as exc:  # e.g. a full disk: the entries stay in memory
                        log.warning("%s: index entries not written (%s); reads scan a little more", seg.log_path, exc)
                        if self.on_storage_error is not None:  # EIO here is a broken disk all the same
                            self.on_storage_error(exc)
            with self._lock:
                self._recovery_point = max(self._recovery_point, target)
                moved_segment = self._segment_base(self._checkpointed[0]) != self._segment_base(target)
            if moved_segment or self._checkpointed[1] != self._log_start:
                self._write_checkpoint()
            return True

    def _segment_base(self, offset: int) -> int:
        return self._bases[max(bisect_right(self._bases, offset) - 1, 0)]

    def _write_checkpoint(self) -> None:
        """Persist the recovery point and log start offset.

        `flush` calls this only when the recovery point entered another segment (a stale,
        lower recovery point is always safe: recovery just re-validates more, at most the
        active segment), so one flush costs one fsync of data plus, rarely, two for the
        checkpoint. Truncation, retention and close always write it.
        """
        entry = (self._recovery_point, self._log_start)
        write_checkpoint(self.directory / RECOVERY_CHECKPOINT, [entry])
        self._checkpointed = entry

    # -- life cycle -------------------------------------------------------------------

    def close(self) -> None:
        """Release every descriptor; a closed log refuses calls.

        No fsync here (as in Kafka): a clean shutdown calls `flush()` first, which moves
        the recovery point to the log end so the next open scans almost nothing.
        """
        with self._flush_lock, self._lock:
            if self._closed:
                return
            if self._checkpointed != (self._recovery_point, self._log_start):
                try:
                    self._write_checkpoint()
                except OSError as exc:  # the old checkpoint is lower: safe, recovery re-checks more
                    log.error("%s: closing without a new recovery point checkpoint: %s", self.directory.name, exc)
            self._closed = True
            for seg in self._segments:
                self._handles.forget(seg.log_path)
            if self._owns_handles:
                self._handles.close()

    def delete(self) -> None:
        """Remove the whole partition directory (the partition left this broker)."""
        with self._flush_lock, self._lock:
            self._closed = True
            for seg in self._segments:
                self._handles.forget(seg.log_path)
            if self._owns_handles:
                self._handles.close()
            shutil.rmtree(self.directory, ignore_errors=True)
