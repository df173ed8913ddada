"""Idempotent produce on the broker: the producer state core (broker/producers/) fed from
the produce path, kept per partition log, saved as `<offset>.snapshot` files.

The produce handler asks `ProducerStates.admit` about a partition's records before it
appends them: batches without a producer id pass untouched; an idempotent batch is
checked against the partition's producer table (gap -> OUT_OF_ORDER_SEQUENCE_NUMBER,
older epoch -> INVALID_PRODUCER_EPOCH, a batch among the producer's last five ->
duplicate, answered with its original offsets and not written). After the append the
handler calls `Admission.appended`, which records the batch.

A partition's table is loaded lazily, at its first idempotent batch: the newest
snapshot at or below the log end whose anchor batch is still in the log, then every
batch header after it (no record is decoded); without a snapshot, the headers of the
last two segments (Kafka's bound). The table remembers the log end it covers and the
leader epoch it was built under; when the log moved without us (a follower's appends, a
truncation, another leader epoch) it catches up from the log, or reloads when the batch
it last saw is gone. So a broker that becomes leader knows every producer whose batches
it replicated, whatever the replication path did. Snapshots are written after the log
manager's periodic flushes (only for tables that changed) and at a clean close; the two
newest are kept. Producers idle for a day (Kafka's producer.id.expiration.ms) are
forgotten at the log manager's retention checks. Everything here runs on the event loop
except the file writes, which get bytes already serialized. This module must never
decode records and never decide acks or replication.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path

from broker.log import PartitionLog
from broker.log.errors import OffsetOutOfRangeError
from broker.log.partition_log import AppendInfo
from broker.producers.snapshot import Anchor, SnapshotCorruptError, load_snapshot, snapshot
from broker.producers.state import Append, Duplicate, ProducerStateTable
from broker.refusal import RequestRefusedError
from client.protocol.errors import ErrorCode
from client.protocol.record_batch import HEADER_SIZE, BatchHeader, CorruptBatchError, iter_batches, read_header
from storage import diskio

log = logging.getLogger(__name__)

SNAPSHOT_SUFFIX = ".snapshot"
SNAPSHOTS_KEPT = 2
SCAN_CHUNK_BYTES = 8 * 1024 * 1024
PRODUCER_ID_EXPIRATION_MS = 24 * 3600 * 1000  # Kafka's producer.id.expiration.ms default
_SNAPSHOT_NAME = re.compile(r"^(\d{20})\.snapshot$")


class SequenceRefusedError(RequestRefusedError):
    """An idempotent batch the partition must not take; carries the error code and why."""


def snapshot_path(directory: Path, offset: int) -> Path:
    return directory / f"{offset:020d}{SNAPSHOT_SUFFIX}"


def snapshot_offsets(directory: Path) -> list[int]:
    """Offsets of the snapshot files in a partition directory, newest first."""
    found = (_SNAPSHOT_NAME.match(p.name) for p in directory.iterdir())
    return sorted((int(m.group(1)) for m in found if m is not None), reverse=True)


def scan_headers(plog: PartitionLog, start: int, end: int) -> Iterator[BatchHeader]:
    """Headers of the batches holding offsets in [start, end), read in large chunks."""
    offset = start
    while (offset := max(offset, plog.log_start_offset)) < end:
        try:
            with plog.read(offset, SCAN_CHUNK_BYTES, max_offset=end) as piece:
                data = piece.read_bytes()
        except OffsetOutOfRangeError:
            if offset >= plog.log_start_offset:
                raise
            continue  # retention moved the log start meanwhile: go on from there
        before = offset
        for header in iter_batches(data):
            if header.last_offset >= offset:
                yield header
                offset = header.last_offset + 1
        if offset == before:
            return  # nothing more below `end` (or a read that made no progress)


def anchor_at(plog: PartitionLog, offset: int) -> Anchor | None:
    """The batch of the log that ends at `offset - 1`, or None if there is none there."""
    if offset <= plog.log_start_offset or offset > plog.log_end_offset:
        return None
    try:
        piece = plog.read(offset - 1, 1)
    except OffsetOutOfRangeError:
        return None
    with piece:
        if piece.length == 0:
            return None
        header = read_header(os.pread(piece.file.fileno(), HEADER_SIZE, piece.position))
    return Anchor(header.base_offset, header.crc) if header.last_offset == offset - 1 else None


class PartitionProducers:
    """One partition's producer table, the log end it covers and what it last saw there."""

    def __init__(self, plog: PartitionLog, leader_epoch: int) -> None:
        self._plog = weakref.ref(plog)  # weak: ProducerStates' key must be able to die
        self.leader_epoch = leader_epoch
        self.table = ProducerStateTable()
        self.covered = plog.log_start_offset
        self.anchor: Anchor | None = None  # the last batch recorded, to tell a rewritten log
        self.snapshotted = -1  # offset of the newest snapshot file we wrote or loaded
        self.synced = -1  # offset of the newest snapshot fsynced (or loaded: it was on disk)

    @property
    def plog(self) -> PartitionLog:
        plog = self._plog()
        assert plog is not None, "a table outlived its log"
        return plog

    @classmethod
    def load(cls, plog: PartitionLog, leader_epoch: int) -> PartitionProducers:
        """The newest usable snapshot plus the log after it; stale snapshots are deleted."""
        parts = cls(plog, leader_epoch)
        end = plog.log_end_offset
        for offset in snapshot_offsets(plog.directory):
            path = snapshot_path(plog.directory, offset)
            try:
                snap = load_snapshot(path.read_bytes()) if offset <= end else None
            except (OSError, SnapshotCorruptError) as exc:
                log.warning("%s: ignoring producer snapshot %s: %s", plog.directory.name, path.name, exc)
                snap = None
            if snap is None or not parts._anchor_holds(snap.offset, snap.anchor):
                path.unlink(missing_ok=True)  # above the log end, damaged, or from a log since rewritten
                continue
            parts.table, parts.covered, parts.anchor = snap.table, max(snap.offset, plog.log_start_offset), snap.anchor
            parts.snapshotted = parts.synced = offset
            break
        else:
            parts._start_at_recent_segments()
        parts.catch_up()
        log.info(
            "%s: producer state of %d producer(s) loaded (snapshot at %s, log end %d)",
            plog.directory.name,
            len(parts.table.entries),
            parts.snapshotted if parts.snapshotted >= 0 else "none",
            end,
        )
        return parts

    def _start_at_recent_segments(self) -> None:
        """Without a snapshot, replay only the last two segments, as Kafka does: a producer
        silent for longer than that is unknown (UNKNOWN_PRODUCER_ID; the client starts
        again under a new id), and a new leader does not scan a whole log on the loop."""
        bases = [s.base_offset for s in self.plog.segments]
        if len(bases) > 2:
            self.covered = bases[-2]
            self.anchor = anchor_at(self.plog, self.covered)

    def _anchor_holds(self, offset: int, anchor: Anchor | None) -> bool:
        if offset <= self.plog.log_start_offset:
            return True  # nothing below it is left to compare (or it starts the log)
        return anchor is not None and anchor_at(self.plog, offset) == anchor

    def in_step(self, leader_epoch: int) -> bool:
        """Whether the table still matches the log; catches up from the log when it can."""
        end = self.plog.log_end_offset
        if leader_epoch == self.leader_epoch and end == self.covered:
            return True
        if end < self.covered or not self._anchor_holds(self.covered, self.anchor):
            return False
        self.leader_epoch = leader_epoch
        self.catch_up()
        return True

    def catch_up(self) -> None:
        """Replay the batches appended after `covered` without passing through `record`."""
        self.record(scan_headers(self.plog, self.covered, self.plog.log_end_offset))

    def record(self, headers: Iterable[BatchHeader], first_offset: int | None = None) -> None:
        """Note appended batches; `first_offset` is where the leader put the first one."""
        offset = first_offset
        for h in headers:
            base = h.base_offset if offset is None else offset
            self.table.append(h.producer_id, h.producer_epoch, h.base_sequence, h.record_count, base, h.max_timestamp)
            self.anchor = Anchor(base, h.crc)
            self.covered = base + h.last_offset_delta + 1
            if offset is not None:
                offset = self.covered

    def snapshot_file(self, durable: bool) -> tuple[Path, bytes] | None:
        """The snapshot to write now, or None if nothing changed since the last one (and,
        for a `durable` one, the last one was fsynced: a periodic write is not)."""
        if self.covered == self.snapshotted and (not durable or self.covered == self.synced):
            return None
        self.snapshotted = self.covered
        if durable:
            self.synced = self.covered
        return snapshot_path(self.plog.directory, self.covered), snapshot(self.table, self.covered, self.anchor)


class Admission:
    """The verdict on one partition's records: a duplicate's original offsets, or an
    append to record once the log has taken it."""

    __slots__ = ("duplicate", "_headers", "_parts")

    def __init__(
        self, headers: list[BatchHeader], duplicate: AppendInfo | None, parts: PartitionProducers | None
    ) -> None:
        self.duplicate = duplicate
        self._headers = headers
        self._parts = parts

    def appended(self, first_offset: int) -> None:
        """The log took the records, the first at `first_offset`: record them."""
        if self._parts is not None and self.duplicate is None:
            self._parts.record(self._headers, first_offset)


class ProducerStates:
    """Every loaded partition's producer table on this broker, keyed by its open log."""

    def __init__(self) -> None:
        self._parts: weakref.WeakKeyDictionary[PartitionLog, PartitionProducers] = weakref.WeakKeyDictionary()
        self._writing: asyncio.Future[None] | None = None  # the snapshot files' worker thread

    def admit(self, plog: PartitionLog, leader_epoch: int, records: bytes | bytearray | memoryview) -> Admission:
        """Check a partition's records before the append; raises SequenceRefusedError."""
        headers = list(_headers(records))
        parts = self._parts.get(plog)
        if all(h.producer_id < 0 for h in headers):
            return Admission(headers, None, parts if parts is not None and parts.in_step(leader_epoch) else None)
        if len(headers) != 1:
            raise SequenceRefusedError(
                ErrorCode.INVALID_RECORD,
                f"{plog.directory.name}: an idempotent produce carries exactly one batch "
                f"per partition, not {len(headers)}",
            )
        h = headers[0]
        if h.producer_epoch < 0 or h.base_sequence < 0:
            raise SequenceRefusedError(
                ErrorCode.INVALID_RECORD,
                f"{plog.directory.name}: producer {h.producer_id} sent epoch {h.producer_epoch} "
                f"and sequence {h.base_sequence}; both must be >= 0",
            )
        if parts is None or not parts.in_step(leader_epoch):
            parts = self._parts[plog] = PartitionProducers.load(plog, leader_epoch)
        verdict = parts.table.check(h.producer_id, h.producer_epoch, h.base_sequence, h.record_count)
        if isinstance(verdict, Append):
            return Admission(headers, None, parts)
        if isinstance(verdict, Duplicate):
            return Admission(headers, AppendInfo(verdict.first_offset, verdict.last_offset, h.max_timestamp), None)
        raise SequenceRefusedError(ErrorCode(int(verdict.error)), f"{plog.directory.name}: {verdict.message}")

    def expire(self, now_ms: int, max_idle_ms: int = PRODUCER_ID_EXPIRATION_MS) -> None:
        """Forget producers idle for `max_idle_ms` in every loaded table (periodically)."""
        for plog, parts in list(self._parts.items()):
            if (gone := parts.table.expire(now_ms, max_idle_ms)) > 0:
                parts.snapshotted = -1  # the next snapshot must not bring them back
                log.info("%s: forgot %d producer(s) idle for %d ms", plog.directory.name, gone, max_idle_ms)

    async def snapshot(self, logs: Iterable[PartitionLog], *, durable: bool = False) -> None:
        """Write a snapshot for each of `logs` whose table changed since its last one
        (after a flush; `durable` at a clean close fsyncs them). One write at a time:
        cancelling a flush pass does not stop its thread, and a close that wrote beside it
        would share its `.tmp` files, or return with the last snapshot still unwritten."""
        while self._writing is not None and not self._writing.done():
            await asyncio.wait([self._writing])
        files = [
            (plog.directory, f)
            for plog in logs
            if (parts := self._parts.get(plog)) is not None and (f := parts.snapshot_file(durable)) is not None
        ]
        if files:
            self._writing = asyncio.ensure_future(asyncio.to_thread(_write_snapshots, files, durable))
            await asyncio.shield(self._writing)


def _headers(records: bytes | bytearray | memoryview) -> Iterator[BatchHeader]:
    pos, size = 0, len(records)
    while pos < size:
        header = read_header(records, pos)
        yield header
        pos += header.size
    if pos != size:
        raise CorruptBatchError(f"the last batch runs {pos - size} bytes past the end of the records")


def _write_snapshots(files: list[tuple[Path, tuple[Path, bytes]]], durable: bool) -> None:
    """Write each snapshot beside its log (tmp + rename), then keep only the newest few."""
    for directory, (path, data) in files:
        tmp = path.with_name(path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                diskio.write_all(fd, data)
                if durable:
                    diskio.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            for old in snapshot_offsets(directory)[SNAPSHOTS_KEPT:]:
                snapshot_path(directory, old).unlink(missing_ok=True)
        except FileNotFoundError:
            continue  # the partition was deleted meanwhile
        except OSError as exc:  # a lost snapshot only costs a longer rebuild from the log
            log.warning("%s: could not write producer snapshot %s: %s", directory.name, path.name, exc)
