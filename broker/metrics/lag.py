"""Consumer lag as the group coordinator sees it: committed offset against the high watermark.

Read at scrape or console time from the groups this broker coordinates. The end of a
partition is its high watermark (what a consumer can read, as kafka-consumer-groups
reports), known here only for partitions this broker hosts a replica of; others are left
out rather than guessed. This module must never change group or replica state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(self.end - self.committed, 0)


def owned_groups(groups: Any) -> list[Any]:
    """Every loaded group (`GroupCoordinator`) of a `GroupManager`, by group id."""
    if groups is None:
        return []
    found = [
        g
        for shell in list(groups.coordinators.values())
        if not shell.loading and not shell.closed
        for g in shell.groups.values()
    ]
    return sorted(found, key=lambda g: g.group_id)


def group_lags(groups: Any, replicas: Any) -> list[PartitionLag]:
    """Lag of every committed partition of every owned group whose end we know."""
    out = []
    for group in owned_groups(groups):
        for (topic, partition), committed in sorted(group.offsets.items()):
            part = replicas.partitions.get((topic, partition))
            if part is None or part.stopped:
                continue
            out.append(PartitionLag(group.group_id, topic, partition, committed.offset, part.high_watermark))
    return out
