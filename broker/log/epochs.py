"""`LeaderEpochCache`: which leader epoch started at which offset (Kafka's KIP-101 cache).

Stored in `leader-epoch-checkpoint` (see checkpoint.py: version, count, then one
`epoch start_offset` line per entry), rewritten atomically on every change. Epochs and
start offsets both strictly increase. Replicas ask `end_offset_for(epoch)` to learn
where to truncate after a leader change, so the answer follows Kafka exactly.
This module must never touch the log files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from .checkpoint import read_checkpoint, write_checkpoint

log = logging.getLogger(__name__)

UNDEFINED_EPOCH = -1
UNDEFINED_OFFSET = -1


class EpochEntry(NamedTuple):
    epoch: int
    start_offset: int


class LeaderEpochCache:
    def __init__(self, path: Path, log_end_offset: Callable[[], int]) -> None:
        self.path = path
        self._log_end_offset = log_end_offset
        self._entries = [EpochEntry(*e) for e in read_checkpoint(path, 2) or []]

    @property
    def entries(self) -> list[EpochEntry]:
        return list(self._entries)

    @property
    def latest_epoch(self) -> int | None:
        return self._entries[-1].epoch if self._entries else None

    def assign(self, epoch: int, start_offset: int) -> None:
        """Record that `epoch` starts at `start_offset`; older or equal epochs are ignored."""
        if epoch < 0:
            return
        if self._entries and epoch <= self._entries[-1].epoch:
            if epoch < self._entries[-1].epoch:
                log.warning(
                    "%s: ignoring epoch %d at %d, older than the latest epoch %d",
                    self.path,
                    epoch,
                    start_offset,
                    self._entries[-1].epoch,
                )
            return
        self._entries = [e for e in self._entries if e.start_offset < start_offset]
        self._entries.append(EpochEntry(epoch, start_offset))
        self._write()

    def end_offset_for(self, epoch: int) -> tuple[int, int]:
        """(epoch, end offset) as KIP-101/KIP-279 define it.

        The end offset of `epoch` is the start offset of the first higher epoch, or the log
        end offset if `epoch` is the latest; the epoch returned is the largest known epoch
        <= the requested one. Unknown (above the latest, or no epochs): (-1, -1).
        """
        if epoch == UNDEFINED_EPOCH or not self._entries:
            return UNDEFINED_EPOCH, UNDEFINED_OFFSET
        if epoch == self._entries[-1].epoch:
            return epoch, self._log_end_offset()
        higher = next((e for e in self._entries if e.epoch > epoch), None)
        if higher is None:
            return UNDEFINED_EPOCH, UNDEFINED_OFFSET
        floor = [e for e in self._entries if e.epoch <= epoch]
        return (floor[-1].epoch if floor else epoch), higher.start_offset

    def truncate_from_end(self, end_offset: int) -> None:
        """Forget epochs starting at or after `end_offset` (the log was truncated there)."""
        kept = [e for e in self._entries if e.start_offset < end_offset]
        if kept != self._entries:
            self._entries = kept
            self._write()

    def truncate_from_start(self, start_offset: int) -> None:
        """The log now starts at `start_offset`: the epoch holding it now starts there."""
        below = [e for e in self._entries if e.start_offset <= start_offset]
        if not below or (len(below) == 1 and below[0].start_offset == start_offset):
            return
        self._entries = [EpochEntry(below[-1].epoch, start_offset)] + self._entries[len(below) :]
        self._write()

    def clear(self) -> None:
        if self._entries:
            self._entries = []
            self._write()

    def _write(self) -> None:
        write_checkpoint(self.path, [tuple(e) for e in self._entries])
