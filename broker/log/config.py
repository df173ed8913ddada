"""`LogConfig`: the settings of one partition log, with Kafka's defaults.

Only data: this module must never open files or read the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class LogConfig:
    """Per-partition log settings (Kafka's topic config names in the comments).

    `flush_messages` / `flush_ms` of None mean "never fsync on a schedule" (Kafka's
    default: durability comes from replication); `flush_messages=1` means fsync before
    every acknowledgement (the broker does it as a group commit off the event loop).
    """

    segment_bytes: int = 1024**3  # segment.bytes
    segment_ms: int = 7 * DAY_MS  # segment.ms
    index_interval_bytes: int = 4096  # index.interval.bytes
    max_index_entries: int = 10 * 1024 * 1024 // 8  # segment.index.bytes / 8: roll when full
    retention_ms: int = 7 * DAY_MS  # retention.ms, -1 = forever
    retention_bytes: int = -1  # retention.bytes, -1 = unlimited
    flush_messages: int | None = None  # flush.messages
    flush_ms: int | None = None  # flush.ms
    max_batch_bytes: int = 1024 * 1024 + 12  # max.message.bytes
    cleanup_policy: str = "delete"  # cleanup.policy: delete | compact (broker/log/compaction.py)
    delete_retention_ms: int = DAY_MS  # delete.retention.ms: how long compaction keeps tombstones

    @property
    def compacted(self) -> bool:
        """Whether the topic is compacted (Kafka: cleanup.policy lists compact): every record needs a key."""
        return "compact" in self.cleanup_policy.split(",")

    @property
    def deletes(self) -> bool:
        """Whether retention.ms / retention.bytes delete old segments (Kafka: cleanup.policy
        lists delete; a compact-only or empty policy keeps every segment)."""
        return "delete" in self.cleanup_policy.split(",")

    def __post_init__(self) -> None:
        if self.segment_bytes < 128:
            raise ValueError(f"segment_bytes must be at least 128, not {self.segment_bytes}")
        if self.index_interval_bytes < 0:
            raise ValueError("index_interval_bytes must not be negative")
        if self.max_index_entries < 1:
            raise ValueError("max_index_entries must be at least 1")
        if self.max_batch_bytes < 61:
            raise ValueError("max_batch_bytes must hold at least a 61-byte batch header")
