"""Per-node simulated durable storage with the failure modes of a real disk.

`meta` holds small values written atomically and durably at once (epochs, snapshots:
the write-temp-fsync-rename pattern). The record log has a durable part and a pending
part: `append` only buffers, `fsync` makes all pending records durable, and `crash`
keeps a random prefix of the pending records (a torn tail that recovery cut at a record
boundary) and loses the rest. A `FaultPlan` (storage.diskio, the one the real storage
tests use) can fail an append (after letting a prefix of its records through) or an
fsync (the records stay pending: a crash may lose them). It must never make a record
durable without fsync or crash, nor reorder records.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from storage.diskio import FaultPlan


class SimDisk:
    def __init__(self, name: str = "log", faults: FaultPlan | None = None) -> None:
        self.name = name
        self.faults = faults
        self.meta: dict[str, Any] = {}
        self.durable: list[Any] = []
        self.pending: list[Any] = []
        self.fsyncs = 0

    def append(self, records: list[Any]) -> None:
        keep, error = self.faults.before_write(self.name, len(records)) if self.faults else (len(records), None)
        self.pending.extend(records[:keep])
        if error is not None:
            raise error

    def fsync(self) -> None:
        if self.faults is not None and (error := self.faults.before_fsync(self.name)) is not None:
            raise error
        self.durable.extend(self.pending)
        self.pending.clear()
        self.fsyncs += 1

    def truncate(self, keep: Callable[[Any], bool]) -> None:
        """Durably keep the longest prefix of records satisfying `keep` (pending too)."""
        for part in (self.durable, self.pending):
            cut = next((i for i, rec in enumerate(part) if not keep(rec)), len(part))
            del part[cut:]

    def drop_prefix(self, drop: Callable[[Any], bool]) -> None:
        """Durably drop leading records satisfying `drop` (a snapshot now covers them)."""
        for part in (self.durable, self.pending):
            cut = next((i for i, rec in enumerate(part) if not drop(rec)), len(part))
            del part[:cut]

    def crash(self, rng: random.Random) -> None:
        survivors = rng.randint(0, len(self.pending))
        self.durable.extend(self.pending[:survivors])
        self.pending.clear()

    def records(self) -> list[Any]:
        """What a restarting process reads back: the durable records only."""
        return list(self.durable)
