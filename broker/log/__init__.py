"""The broker's storage engine: partition logs of segments with sparse indexes.

Other parts import from here only: `PartitionLog`, `LogConfig`, `FileHandleCache`, the
result types, the errors, the leader's `validate_for_append` and the record-format check
`unreadable_dirs`. This package must never decode records on the fetch path (on the
produce path only the validator walks them, once), and never import from
`broker.server` (the server sits on top of it).
docs/storage.md describes every file byte by byte.
"""

from .config import LogConfig
from .epochs import EpochEntry, LeaderEpochCache
from .errors import (
    CorruptBatchError,
    InvalidAppendOffsetError,
    LogCorruptionError,
    LogError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
)
from .handles import FileHandleCache
from .partition_log import AppendInfo, PartitionLog, ReadSlice, SegmentInfo
from .record_format import OldRecordFormatError, unreadable_dirs
from .segment import TimestampAndOffset
from .validator import validate_for_append

__all__ = [
    "AppendInfo",
    "CorruptBatchError",
    "EpochEntry",
    "FileHandleCache",
    "InvalidAppendOffsetError",
    "LeaderEpochCache",
    "LogConfig",
    "LogCorruptionError",
    "LogError",
    "OffsetOutOfRangeError",
    "OldRecordFormatError",
    "PartitionLog",
    "ReadSlice",
    "RecordTooLargeError",
    "SegmentInfo",
    "TimestampAndOffset",
    "unreadable_dirs",
    "validate_for_append",
]
