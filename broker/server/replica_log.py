"""The replication core's `ReplicaLog` over a real `PartitionLog`.

The core decides with offsets and epochs only; this adapter hands it `LogBatch` values
(base offset, last offset, epoch, and the batch bytes when they were read) and turns its
calls into PartitionLog appends and truncations. Two places where the storage engine and
the core's model differ are settled here, not in either of them:

- `end_offset_for`: `LeaderEpochCache` answers Kafka's way when no epoch <= the asked one
  exists (the asked epoch itself, ending where the first known epoch starts) and when
  the asked epoch is above the latest ((-1, -1)); the core's contract is "(largest epoch
  <= asked, its end), or (-1, -1) if none is known" (it then falls back to the high
  watermark), so those two cases are answered here by that contract.
- Batches are whole byte ranges: a leader append of several concatenated batches is one
  `LogBatch` spanning them all.

It must never decide anything about replication and never touch sockets or coord.
"""

from __future__ import annotations

from dataclasses import dataclass

from broker.log import PartitionLog
from client.protocol.record_batch import validate_batch

UNDEFINED = -1


@dataclass(frozen=True)
class LogBatch:
    """What the core sees of a run of batches; `data` is empty when bytes were not read."""

    base_offset: int
    last_offset: int
    epoch: int
    data: bytes = b""


def split_batches(data: bytes | memoryview) -> list[LogBatch]:
    """Cut concatenated record batches (a fetch response's bytes) into `LogBatch`es,
    checking each one's CRC; raises CorruptBatchError on a bad or partial batch."""
    view = memoryview(data)
    out, pos = [], 0
    while pos < len(view):
        header = validate_batch(view, pos)
        out.append(
            LogBatch(
                header.base_offset,
                header.base_offset + header.last_offset_delta,
                header.partition_leader_epoch,
                bytes(view[pos : pos + header.size]),
            )
        )
        pos += header.size
    return out


class PartitionReplicaLog:
    """`ReplicaLog` for one `PartitionLog`; records given to `append_as_leader` are raw
    batch bytes (one or more concatenated batches from a Produce request)."""

    def __init__(self, log: PartitionLog) -> None:
        self.log = log

    @property
    def log_end_offset(self) -> int:
        return self.log.log_end_offset

    @property
    def latest_epoch(self) -> int | None:
        return self.log.leader_epochs.latest_epoch

    def append_as_leader(self, records: tuple[object, ...], epoch: int) -> LogBatch:
        (raw,) = records
        info = self.log.append(raw, leader_epoch=epoch)  # type: ignore[arg-type]  # the core hands back the batch bytes it was given
        return LogBatch(info.first_offset, info.last_offset, epoch)

    def append_as_follower(self, batches: tuple[LogBatch, ...]) -> None:
        data = b"".join(b.data for b in batches)
        if data:
            self.log.append(data, assign_offsets=False)

    def truncate_to(self, offset: int) -> None:
        self.log.truncate_to(offset)

    def assign_epoch(self, epoch: int, start_offset: int) -> None:
        self.log.leader_epochs.assign(epoch, start_offset)

    def end_offset_for(self, epoch: int) -> tuple[int, int]:
        entries = self.log.leader_epochs.entries
        if not entries or entries[0].epoch > epoch:
            return UNDEFINED, UNDEFINED
        if epoch >= entries[-1].epoch:
            return entries[-1].epoch, self.log.log_end_offset
        return self.log.leader_epochs.end_offset_for(epoch)

    def read(self, offset: int, max_batches: int) -> tuple[LogBatch, ...]:
        """Up to `max_batches` whole batches from the one holding `offset`. The broker's
        fetch path asks for 0 (it sends the bytes with sendfile itself) so the core only
        does its bookkeeping; tests and tools read through here."""
        if max_batches <= 0 or offset >= self.log.log_end_offset:
            return ()
        with self.log.read(offset, 1 << 30) as piece:
            return tuple(split_batches(piece.read_bytes())[:max_batches])
