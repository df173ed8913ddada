"""The idempotent producer's bookkeeping, sans I/O: who we are and which sequences are out.

Kafka's TransactionManager as an idempotent (non-transactional) producer uses it:
- one producer id and epoch (from InitProducerId) for the whole producer;
- per partition, the next sequence: a batch takes its base sequence the first time it
  is sent and keeps it, with its encoded bytes, through every retry, so the leader can
  recognise a retry of a batch it already wrote and answer it as a duplicate;
- per partition, the batches with a sequence that are not acknowledged yet, in sequence
  order. A new batch may go out while others are in flight (up to `max_in_flight`
  requests per connection, at most five, the window the broker remembers); a batch
  coming back for a retry goes out only once it is the oldest unacknowledged batch of
  its partition and nothing of that partition is on the wire, so retries land in order.
Answers: DUPLICATE_SEQUENCE_NUMBER is success. OUT_OF_ORDER_SEQUENCE_NUMBER for a batch
behind an unresolved one is a consequence of that one: retry. For the oldest batch it
means the leader lost our state (or a batch failed for good and left a hole), and so do
UNKNOWN_PRODUCER_ID and INVALID_PRODUCER_EPOCH: then the producer resets as Kafka's
idempotent producer does: it waits until nothing is in flight, gets a new producer id,
and numbers the unacknowledged batches of the partitions that asked for the reset again
from 0 (the broker has none of them). Other partitions' unacknowledged batches keep their
old producer id and sequences, because one of them may be in the log already and only
its old identity lets the broker recognise a retry; their new batches wait until those
are resolved and then start at 0 under the new id. This module must never do I/O or
encode a batch: the sender asks it and acts.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable

from client.producer.accumulator import ProducerBatch
from client.protocol.errors import RETRIABLE, ErrorCode
from client.structs import TopicPartition

INT32_MAX = 2**31 - 1
MAX_IN_FLIGHT = 5  # the broker remembers a producer's last five batches per partition

_RESET_CODES = frozenset({ErrorCode.UNKNOWN_PRODUCER_ID, ErrorCode.INVALID_PRODUCER_EPOCH})


class Verdict(enum.Enum):
    DONE = "done"  # the batch is in the log (a duplicate answer counts)
    RETRY = "retry"  # send it again, keeping its sequence (or a new one after a reset)
    FAIL = "fail"  # give the error to the records


def increment_sequence(sequence: int, increment: int) -> int:
    """Sequence arithmetic with Kafka's int32 wrap."""
    if sequence > INT32_MAX - increment:
        return increment - (INT32_MAX - sequence) - 1
    return sequence + increment


class IdempotenceState:
    """One producer's identity and, per partition, its sequences and unacknowledged batches."""

    def __init__(self) -> None:
        self.producer_id = -1
        self.producer_epoch = -1
        self.reset_pending = False  # a new producer id is needed before sending more
        self._next_seq: dict[TopicPartition, int] = {}
        self._unacked: dict[TopicPartition, list[ProducerBatch]] = {}
        self._on_wire: dict[TopicPartition, int] = {}
        self._renumber: set[TopicPartition] = set()  # partitions whose reset is pending
        self._order = itertools.count()

    @property
    def needs_producer_id(self) -> bool:
        return self.producer_id < 0 or self.reset_pending

    def in_flight(self) -> int:
        return sum(self._on_wire.values())

    def set_producer_id(self, producer_id: int, epoch: int) -> None:
        """A new identity: sequences start again at 0, and the unacknowledged batches of
        the partitions that asked for it are numbered again under it."""
        self.producer_id, self.producer_epoch, self.reset_pending = producer_id, epoch, False
        self._next_seq.clear()
        renumber, self._renumber = self._renumber, set()
        for tp in renumber:
            for batch in self._unacked.get(tp, ()):
                batch.encoded = None
                self._assign(batch)

    def may_send(self, batch: ProducerBatch) -> bool:
        """Whether the head batch of its partition may go on the wire now."""
        if self.needs_producer_id:
            return False
        if batch.base_sequence < 0:  # new: not before the partition's batches of an older identity
            return all(b.producer_id == self.producer_id for b in self._unacked.get(batch.tp, ()))
        unacked = self._unacked.get(batch.tp)
        if not unacked:
            return False
        return unacked[0] is batch and not self._on_wire.get(batch.tp)

    def sent(self, batch: ProducerBatch) -> None:
        """The batch goes out now: give it a sequence on its first trip."""
        if batch.base_sequence < 0:
            self._assign(batch)
            self._unacked.setdefault(batch.tp, []).append(batch)
        self._on_wire[batch.tp] = self._on_wire.get(batch.tp, 0) + 1

    def _assign(self, batch: ProducerBatch) -> None:
        seq = self._next_seq.get(batch.tp, 0)
        batch.producer_id, batch.producer_epoch, batch.base_sequence = self.producer_id, self.producer_epoch, seq
        batch.order = (next(self._order),)
        self._next_seq[batch.tp] = increment_sequence(seq, len(batch.records))

    def answered(self, batch: ProducerBatch, code: int) -> Verdict:
        """Classify the broker's answer for a batch that was on the wire (0 = success)."""
        self._on_wire[batch.tp] -= 1
        if code in (ErrorCode.NONE, ErrorCode.DUPLICATE_SEQUENCE_NUMBER):
            self.forget(batch)
            return Verdict.DONE
        if code in _RESET_CODES or (code == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER and self._is_oldest(batch)):
            self.reset_pending = True  # retried once renumbered under a new producer id
            self._renumber.add(batch.tp)
            return Verdict.RETRY
        if code == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER:
            return Verdict.RETRY  # an earlier batch is unresolved; this one follows it
        return Verdict.RETRY if code in RETRIABLE else Verdict.FAIL

    def unanswered(self, batch: ProducerBatch) -> None:
        """The batch's request got no answer (connection lost, timeout): outcome unknown."""
        self._on_wire[batch.tp] -= 1

    def _is_oldest(self, batch: ProducerBatch) -> bool:
        unacked = self._unacked.get(batch.tp)
        return not unacked or unacked[0] is batch

    def forget(self, batch: ProducerBatch) -> None:
        """The batch is finished (done, failed or expired): no longer unacknowledged."""
        unacked = self._unacked.get(batch.tp)
        if unacked and batch in unacked:
            unacked.remove(batch)

    def replace(self, batch: ProducerBatch, parts: Iterable[ProducerBatch]) -> None:
        """A batch refused as too large, split in parts: they take its place and sequences."""
        self._on_wire[batch.tp] -= 1
        unacked = self._unacked.setdefault(batch.tp, [])
        at = unacked.index(batch) if batch in unacked else len(unacked)
        seq = batch.base_sequence
        parts = list(parts)
        for i, part in enumerate(parts):
            part.producer_id, part.producer_epoch, part.base_sequence = batch.producer_id, batch.producer_epoch, seq
            part.order = (*batch.order, i)  # between the batch's predecessor and its successor
            seq = increment_sequence(seq, len(part.records))
        unacked[at : at + 1] = parts
