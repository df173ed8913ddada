"""Idempotent producer state of one partition: who wrote which sequences, and at what offsets.

Per producer id the leader keeps the producer epoch and the last five batches it
appended (first/last sequence, first/last offset): an idempotent client keeps at most
five requests in flight, so any batch it may retry is still in that window (KIP-98).
`check` classifies an incoming batch before it is written; `append` records it once
offsets are assigned. Rules, as Kafka's ProducerAppendInfo:
- an epoch older than the known one: INVALID_PRODUCER_EPOCH (a fenced zombie);
- a newer epoch must start at sequence 0, and forgets the old epoch's batches;
- same epoch: a batch equal to a cached one is a duplicate (answered with its original
  offsets, not written); otherwise it must start right after the last sequence, else
  OUT_OF_ORDER_SEQUENCE_NUMBER;
- an unknown producer id must start at sequence 0, else UNKNOWN_PRODUCER_ID (Kafka
  before 2.5 did this; 2.5+ accepts any sequence there, KIP-360, but then a client
  whose first batch is being retried could see its second batch written first: with
  the refusal, the client takes a new producer id and renumbers, keeping its order).
A producer that wrote nothing for `producer.id.expiration.ms` (by its batches' own max
timestamps, as Kafka) is forgotten by `expire`, so the table does not grow with every
producer that ever wrote. Sequences wrap from 2**31-1 to 0. No I/O, no clock (time is
passed in): snapshots are bytes (snapshot.py).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum

INT32_MAX = 2**31 - 1
NO_PRODUCER_ID = -1
BATCHES_KEPT = 5


class ErrorCode(IntEnum):
    NONE = 0
    OUT_OF_ORDER_SEQUENCE_NUMBER = 45
    INVALID_PRODUCER_EPOCH = 47
    UNKNOWN_PRODUCER_ID = 59


def increment_sequence(sequence: int, increment: int) -> int:
    """Sequence arithmetic with the int32 wrap Kafka uses (DefaultRecordBatch)."""
    if sequence > INT32_MAX - increment:
        return increment - (INT32_MAX - sequence) - 1
    return sequence + increment


@dataclass(frozen=True)
class BatchMetadata:
    first_seq: int
    last_seq: int
    first_offset: int
    last_offset: int


@dataclass
class ProducerEntry:
    producer_id: int
    epoch: int
    batches: deque[BatchMetadata] = field(default_factory=lambda: deque(maxlen=BATCHES_KEPT))
    last_timestamp: int = -1  # max timestamp of its latest batch (ms): when it last wrote

    @property
    def last_seq(self) -> int | None:
        return self.batches[-1].last_seq if self.batches else None


@dataclass(frozen=True)
class Append:
    """Write the batch."""


@dataclass(frozen=True)
class Duplicate:
    """Already written: answer success with the original offsets, write nothing."""

    first_offset: int
    last_offset: int


@dataclass(frozen=True)
class Reject:
    error: ErrorCode
    message: str


Verdict = Append | Duplicate | Reject


class ProducerStateTable:
    def __init__(self) -> None:
        self.entries: dict[int, ProducerEntry] = {}

    def check(self, producer_id: int, epoch: int, base_sequence: int, record_count: int) -> Verdict:
        if producer_id == NO_PRODUCER_ID:
            return Append()
        entry = self.entries.get(producer_id)
        if entry is None:
            if base_sequence == 0:
                return Append()
            return Reject(
                ErrorCode.UNKNOWN_PRODUCER_ID,
                f"producer {producer_id} is unknown here (new, expired, or its batches deleted) and "
                f"its sequence {base_sequence} does not start at 0",
            )
        last_seq = increment_sequence(base_sequence, record_count - 1)
        if epoch < entry.epoch:
            return Reject(
                ErrorCode.INVALID_PRODUCER_EPOCH,
                f"producer {producer_id} epoch {epoch} is older than {entry.epoch}: fenced",
            )
        if epoch > entry.epoch:
            if base_sequence != 0:
                return Reject(
                    ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
                    f"producer {producer_id} new epoch {epoch} must start at sequence 0, not {base_sequence}",
                )
            return Append()
        for b in entry.batches:
            if b.first_seq == base_sequence and b.last_seq == last_seq:
                return Duplicate(b.first_offset, b.last_offset)
        expected = 0 if entry.last_seq is None else increment_sequence(entry.last_seq, 1)
        if base_sequence != expected:
            return Reject(
                ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
                f"producer {producer_id} sent sequence {base_sequence}, expected {expected}",
            )
        return Append()

    def append(
        self, producer_id: int, epoch: int, base_sequence: int, record_count: int, base_offset: int, timestamp: int = -1
    ) -> None:
        """Record a written batch (on the leader after `check`, on followers and during
        rebuild for every batch in log order: no check there, the leader already did it)."""
        if producer_id == NO_PRODUCER_ID:
            return
        entry = self.entries.get(producer_id)
        if entry is None or epoch > entry.epoch:
            entry = self.entries[producer_id] = ProducerEntry(producer_id, epoch)
        entry.batches.append(
            BatchMetadata(
                base_sequence,
                increment_sequence(base_sequence, record_count - 1),
                base_offset,
                base_offset + record_count - 1,
            )
        )
        entry.last_timestamp = max(entry.last_timestamp, timestamp)

    def expire(self, now_ms: int, max_idle_ms: int) -> int:
        """Forget producers whose last batch is `max_idle_ms` old; returns how many."""
        idle = [pid for pid, e in self.entries.items() if 0 <= e.last_timestamp <= now_ms - max_idle_ms]
        for pid in idle:
            del self.entries[pid]
        return len(idle)

    def truncate_to(self, offset: int) -> None:
        """Forget batches at or above `offset` (log truncation); the caller rebuilds from the
        last snapshot when it needs exactness below the window."""
        for pid in list(self.entries):
            entry = self.entries[pid]
            kept = [b for b in entry.batches if b.last_offset < offset]
            if not kept:
                del self.entries[pid]
            else:
                entry.batches = deque(kept, maxlen=BATCHES_KEPT)
