"""Rebuild every group of one `__consumer_offsets` partition from its records.

What a broker does when it becomes leader of an offsets partition (coordinator
failover): read the partition from its log start to its log end offset, keep the
latest value per key (a tombstone deletes the key), and hand each group to a fresh
`GroupCoordinator`. Records must be fed in log order. Until loading finishes the shell
answers that group's requests with COORDINATOR_LOAD_IN_PROGRESS. It never reads files
itself: the shell feeds it decoded (key, value) records.
"""

from __future__ import annotations

from collections.abc import Iterable

from broker.groups.coordinator import GroupConfig, GroupCoordinator
from broker.groups.messages import TopicPartition
from broker.groups.records import (
    GroupKey,
    GroupMetadataValue,
    OffsetAndMetadata,
    Record,
    decode_group_value,
    decode_key,
    decode_offset_value,
)


class GroupLoader:
    def __init__(self) -> None:
        self._groups: dict[str, GroupMetadataValue] = {}
        self._offsets: dict[str, dict[TopicPartition, OffsetAndMetadata]] = {}

    def apply(self, record: Record) -> None:
        key = decode_key(record.key)
        if isinstance(key, GroupKey):
            if record.value is None:
                self._groups.pop(key.group_id, None)
            else:
                self._groups[key.group_id] = decode_group_value(record.value)
            return
        offsets = self._offsets.setdefault(key.group_id, {})
        if record.value is None:
            offsets.pop((key.topic, key.partition), None)
        else:
            offsets[(key.topic, key.partition)] = decode_offset_value(record.value)

    def group_ids(self) -> set[str]:
        return set(self._groups) | {g for g, offsets in self._offsets.items() if offsets}

    def build(
        self, *, now_ms: int, coordinator_epoch: int = 0, config: GroupConfig | None = None, wall_ms: int | None = None
    ) -> dict[str, GroupCoordinator]:
        return {
            g: GroupCoordinator.restore(
                g,
                self._groups.get(g),
                self._offsets.get(g, {}),
                now_ms=now_ms,
                coordinator_epoch=coordinator_epoch,
                config=config,
                wall_ms=wall_ms,
            )
            for g in sorted(self.group_ids())
        }


def load_groups(
    records: Iterable[Record], *, now_ms: int, coordinator_epoch: int = 0, config: GroupConfig | None = None
) -> dict[str, GroupCoordinator]:
    loader = GroupLoader()
    for record in records:
        loader.apply(record)
    return loader.build(now_ms=now_ms, coordinator_epoch=coordinator_epoch, config=config)
