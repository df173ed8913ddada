"""Typed errors of the storage engine, each with a message an operator can act on.

`CorruptBatchError` (bad bytes offered for append) comes from the batch codec and is
re-exported here; this module must never grow logic, only exception types.
"""

from __future__ import annotations

from client.protocol.record_batch import CorruptBatchError


class LogError(Exception):
    """Base of every storage-engine error."""


class OffsetOutOfRangeError(LogError):
    """The requested offset is below the log start offset or above the log end offset."""


class RecordTooLargeError(LogError):
    """A batch is larger than max_batch_bytes (Kafka's message.max.bytes)."""


class InvalidAppendOffsetError(LogError, ValueError):
    """A follower append whose offsets go backwards: the replica must truncate first."""


class LogCorruptionError(LogError):
    """Data below the recovery point (fsynced and trusted) is damaged: never served.

    The fix is operational: delete the partition directory so that it is re-replicated
    from the leader (or restored), since an fsynced batch cannot be rebuilt locally.
    """


class LogStorageError(LogError, OSError):
    """An fsync of this log failed earlier in this process: what the log holds on disk is
    unknown (the kernel may have dropped the unsynced pages), so it takes no more writes
    and never moves its recovery point again. Kafka's KAFKA_STORAGE_ERROR; the fix is a
    restart once the disk is healthy (recovery re-checks everything after the recovery
    point), or moving the partition to another broker.
    """


class LogDirOfflineError(LogError, OSError):
    """The log directory holding this partition (or one that may hold it) went offline after
    an I/O error in this run: the partition is not served here until a restart finds the
    directory healthy again. Kafka's KAFKA_STORAGE_ERROR; its replicas elsewhere lead.
    """


class LogDirsConflictError(LogError):
    """One partition is in two log directories (a copy left behind by hand): which one is
    current cannot be known, so the broker refuses to start until an operator removes one.
    """


__all__ = [
    "CorruptBatchError",
    "InvalidAppendOffsetError",
    "LogCorruptionError",
    "LogDirOfflineError",
    "LogDirsConflictError",
    "LogError",
    "LogStorageError",
    "OffsetOutOfRangeError",
    "RecordTooLargeError",
]
