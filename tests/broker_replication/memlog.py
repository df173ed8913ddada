"""An in-memory ReplicaLog for the replication tests and simulator, with a flush point.

It keeps batches whole (truncation drops any batch holding an offset at or above the cut,
as PartitionLog does) and an epoch cache with the same KIP-101/279 answers. `flushed`
marks how much would survive a power cut; `crash()` drops the rest. It must never be
used outside tests.
"""

from __future__ import annotations

from broker.replication.messages import Batch


class MemoryLog:
    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self.epochs: list[tuple[int, int]] = []  # (epoch, start offset), both increasing
        self.flushed = 0
        self.truncations = 0  # lets the simulator re-check only when history changed
        self._index: dict[int, tuple[int, object]] = {}

    @property
    def log_end_offset(self) -> int:
        return self.batches[-1].last_offset + 1 if self.batches else 0

    @property
    def latest_epoch(self) -> int | None:
        return self.epochs[-1][0] if self.epochs else None

    def append_as_leader(self, records: tuple[object, ...], epoch: int) -> Batch:
        batch = Batch(self.log_end_offset, epoch, tuple(records))
        self.append_as_follower((batch,))
        return batch

    def append_as_follower(self, batches: tuple[Batch, ...]) -> None:
        for b in batches:
            assert b.base_offset == self.log_end_offset, (b, self.log_end_offset)
            self.assign_epoch(b.epoch, b.base_offset)
            self.batches.append(b)
            self._index.update((b.base_offset + i, (b.epoch, r)) for i, r in enumerate(b.records))

    def assign_epoch(self, epoch: int, start_offset: int) -> None:
        if self.epochs and epoch <= self.epochs[-1][0]:
            return
        self.epochs = [e for e in self.epochs if e[1] < start_offset] + [(epoch, start_offset)]

    def truncate_to(self, offset: int) -> None:
        if offset >= self.log_end_offset:
            return
        self.batches = [b for b in self.batches if b.last_offset < offset]
        self.truncations += 1
        self._index = {o: v for o, v in self._index.items() if o < self.log_end_offset}
        self.epochs = [e for e in self.epochs if e[1] < self.log_end_offset]
        self.flushed = min(self.flushed, self.log_end_offset)

    def end_offset_for(self, epoch: int) -> tuple[int, int]:
        below = [e for e in self.epochs if e[0] <= epoch]
        if not below:
            return -1, -1
        later = [e for e in self.epochs if e[0] > epoch]
        return below[-1][0], (later[0][1] if later else self.log_end_offset)

    def read(self, offset: int, max_batches: int) -> tuple[Batch, ...]:
        return tuple(b for b in self.batches if b.last_offset >= offset)[:max_batches]

    def records(self) -> dict[int, tuple[int, object]]:
        """offset -> (epoch, record), for invariant checks (do not modify)."""
        return self._index

    def flush(self) -> None:
        self.flushed = self.log_end_offset

    def crash(self) -> None:
        """A power cut: everything after the last flush is gone."""
        self.truncate_to(self.flushed)
