"""Checks on CreateTopics requests, as pure functions returning an error code and message.

Kafka's rules: topic names of 1-249 characters from [a-zA-Z0-9._-], not "." or "..";
at least one partition; a replication factor between 1 and the number of live brokers;
only known per-topic configs, with values of the right kind. This module must never
talk to coord or the log: it only judges a request.
"""

from __future__ import annotations

import re

from broker.refusal import ErrorReply
from client.protocol.errors import ErrorCode

_LEGAL_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")

# Per-topic configs we honour, and whether each value must be an integer.
TOPIC_CONFIGS: dict[str, bool] = {
    "retention.ms": True,
    "retention.bytes": True,
    "segment.bytes": True,
    "segment.ms": True,
    "max.message.bytes": True,
    "flush.messages": True,
    "flush.ms": True,
    "cleanup.policy": False,
    "delete.retention.ms": True,
    "min.insync.replicas": True,
    "unclean.leader.election.enable": False,
    "compression.type": False,
    "message.format.version": False,
    "file.delete.delay.ms": True,
}
# file.delete.delay.ms: accepted and described, without effect: Kafka waits this long before
# removing a deleted segment's files so readers can finish; here a reader holds its own
# descriptor of the file (ReadSlice), so segments go at once.
# cleanup.policy: delete (retention) or compact (keep the latest value per key; broker/log/compaction.py),
# or both ("compact,delete"). compression.type: what the leader stores (broker/server/recompress.py).
_CHOICES = {
    "cleanup.policy": {"delete", "compact"},
    "unclean.leader.election.enable": {"true", "false"},
    "compression.type": {"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"},
}
# message.format.version: accepted and described, and without effect, as in Kafka 3.x (whose
# inter-broker protocol 3.0+ ignores it): a pybroker log holds RecordBatch v2 only.
_PATTERNS = {"message.format.version": re.compile(r"[0-9]+(\.[0-9]+){1,3}(-IV[0-9]+)?")}
# List configs (IncrementalAlterConfigs may APPEND to and SUBTRACT from them) and their defaults.
LIST_CONFIGS = {"cleanup.policy": "delete"}

# One CreateTopics is one coord multi of 2 znodes per partition; this keeps it far below
# coord's 1 MiB request limit.
MAX_PARTITIONS = 2000


def check_topic_name(name: object) -> ErrorReply | None:
    if not isinstance(name, str) or not _LEGAL_NAME.fullmatch(name) or name in (".", ".."):
        return (
            ErrorCode.INVALID_TOPIC_EXCEPTION,
            f"topic name {name!r} is not legal: use 1-249 characters of a-z A-Z 0-9 . _ - (and not '.' or '..')",
        )
    return None


def check_configs(configs: object) -> ErrorReply | None:
    if not isinstance(configs, dict):
        return ErrorCode.INVALID_CONFIG, "configs must be a map of string to string"
    for key, value in configs.items():
        if key not in TOPIC_CONFIGS:
            return (
                ErrorCode.INVALID_CONFIG,
                f"unknown topic config {key!r}; known: {', '.join(sorted(TOPIC_CONFIGS))}",
            )
        if TOPIC_CONFIGS[key]:
            try:
                int(str(value))
            except ValueError:
                return ErrorCode.INVALID_CONFIG, f"topic config {key} must be an integer, not {value!r}"
        elif key in _PATTERNS:
            if not _PATTERNS[key].fullmatch(str(value)):
                return ErrorCode.INVALID_CONFIG, f"topic config {key} must be a Kafka version such as 3.0-IV1"
        elif key in LIST_CONFIGS:
            items = [v.strip() for v in str(value).split(",") if v.strip()]  # empty: neither (Kafka 3.x)
            if any(v not in _CHOICES[key] for v in items):
                return (
                    ErrorCode.INVALID_CONFIG,
                    f"topic config {key} must be a comma-separated list of {sorted(_CHOICES[key])}, not {value!r}",
                )
        elif str(value) not in _CHOICES[key]:
            return ErrorCode.INVALID_CONFIG, f"topic config {key} must be one of {sorted(_CHOICES[key])}"
    return None


def check_new_topic(
    name: object, num_partitions: object, replication_factor: object, configs: object, live_brokers: int
) -> ErrorReply | None:
    """The first reason to refuse creating this topic, or None if it may be created."""
    refusal = check_topic_name(name)
    if refusal:
        return refusal
    if type(num_partitions) is not int or not 1 <= num_partitions <= MAX_PARTITIONS:
        return (
            ErrorCode.INVALID_PARTITIONS,
            f"number of partitions must be between 1 and {MAX_PARTITIONS}, not {num_partitions!r}",
        )
    if type(replication_factor) is not int or replication_factor < 1:
        return (
            ErrorCode.INVALID_REPLICATION_FACTOR,
            f"replication factor must be at least 1, not {replication_factor!r}",
        )
    if replication_factor > live_brokers:
        return (
            ErrorCode.INVALID_REPLICATION_FACTOR,
            f"replication factor {replication_factor} is larger than the {live_brokers} live broker(s)",
        )
    return check_configs(configs)


def assign_replicas(
    num_partitions: int,
    replication_factor: int,
    brokers: list[int],
    start: int = 0,
    racks: dict[int, str | None] | None = None,
) -> dict[int, list[int]]:
    """Round-robin replica assignment, rack-aware when brokers have racks (Kafka's way).

    Brokers are ordered by alternating racks (a1 b1 c1 a2 b2 ...); partition p's first
    replica is the (start+p)-th, and each next replica is the next broker in that order
    whose rack holds no replica of p yet (any unused broker once every rack has one).
    Without racks this is plain round robin: partition p gets brokers start+p, +1, ...
    """
    rack_of = {b: (racks or {}).get(b) or "" for b in brokers}
    by_rack: dict[str, list[int]] = {}
    for b in sorted(brokers):
        by_rack.setdefault(rack_of[b], []).append(b)
    groups = [by_rack[r] for r in sorted(by_rack)]
    ordered = [g[i] for i in range(max(map(len, groups), default=0)) for g in groups if i < len(g)]
    n, rack_count = len(ordered), len(groups)
    out = {}
    for p in range(num_partitions):
        pos = (start + p) % n
        chosen, used = [ordered[pos]], {rack_of[ordered[pos]]}
        while len(chosen) < replication_factor:
            pos = (pos + 1) % n
            b = ordered[pos]
            if b in chosen or (rack_of[b] in used and len(used) < rack_count):
                continue
            chosen.append(b)
            used.add(rack_of[b])
        out[p] = chosen
    return out
