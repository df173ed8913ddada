"""The small log interface the replication core drives; `PartitionLog` and test logs satisfy it.

The core decides, the log stores: the core never reads bytes or files through this, only
offsets and epochs. Names follow `broker/log/PartitionLog` and its `LeaderEpochCache`
so a thin adapter is enough. An implementation must keep its epoch cache in step with
its data (truncation drops epochs starting at or above the cut).
"""

from __future__ import annotations

from typing import Protocol

from broker.replication.messages import Batch


class ReplicaLog(Protocol):
    @property
    def log_end_offset(self) -> int: ...

    @property
    def latest_epoch(self) -> int | None: ...

    def append_as_leader(self, records: tuple[object, ...], epoch: int) -> Batch:
        """Assign offsets from the log end, stamp `epoch`, return the batch written."""

    def append_as_follower(self, batches: tuple[Batch, ...]) -> None:
        """Append batches copied from the leader, keeping their offsets and epochs."""

    def truncate_to(self, offset: int) -> None: ...

    def assign_epoch(self, epoch: int, start_offset: int) -> None:
        """A new leader records where its epoch starts (KIP-279), even with no data yet."""

    def end_offset_for(self, epoch: int) -> tuple[int, int]:
        """(largest epoch <= `epoch`, its end offset), or (-1, -1) if none is known."""

    def read(self, offset: int, max_batches: int) -> tuple[Batch, ...]: ...
