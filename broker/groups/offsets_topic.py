"""The internal `__consumer_offsets` topic: its name, its configs, and which partition a group uses.

A group lives on partition `abs(java_hash(group_id)) % partitions`, exactly Kafka's rule
(`Utils.abs(groupId.hashCode) % offsets.topic.num.partitions`), so a group id maps to
the same partition number a Kafka user would compute, and the mapping never depends on
the process (Python's `hash` of a str is salted per process and must never be used
here). The partition count is fixed when the topic is first created: changing
`offsets.topic.num.partitions` later would move groups away from their records, so the
count always comes from the topic's metadata, never from the config, once it exists.
This module only computes; it must never create the topic or touch a log.
"""

from __future__ import annotations

OFFSETS_TOPIC = "__consumer_offsets"

_INT_MIN = -(2**31)


def java_string_hash(text: str) -> int:
    """Java's `String.hashCode()`: 31-polynomial over UTF-16 code units, as a signed int32."""
    data = text.encode("utf-16-be", "surrogatepass")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def partition_for(group_id: str, partitions: int) -> int:
    """The `__consumer_offsets` partition holding `group_id` (Kafka's `Utils.abs`: MIN -> 0)."""
    if partitions < 1:
        raise ValueError(f"the offsets topic needs at least one partition, not {partitions}")
    h = java_string_hash(group_id)
    return (0 if h == _INT_MIN else abs(h)) % partitions


def topic_configs(segment_bytes: int) -> dict[str, str]:
    """Configs the offsets topic is created with: key-compacted, never deleted by age
    (compaction and tombstones bound its size), fsync left to replication as for any topic."""
    return {"cleanup.policy": "compact", "retention.ms": "-1", "segment.bytes": str(segment_bytes)}
