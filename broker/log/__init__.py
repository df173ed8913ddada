"""The broker's storage engine: partition logs of segments with sparse indexes.

Other parts import from here only: `PartitionLog`, `LogConfig`, `FileHandleCache`, the
result types and the errors. This package must never decode records on the produce or
fetch path, and never import from `broker.server` (the server sits on top of it).
docs/storage.md describes every file byte by byte.
"""

from .config import LogConfig
from .epochs import EpochEntry, LeaderEpochCache
from .errors import (CorruptBatchError, InvalidAppendOffsetError, LogCorruptionError, LogError,
                     OffsetOutOfRangeError, RecordTooLargeError)
from .handles import FileHandleCache
from .partition_log import AppendInfo, PartitionLog, ReadSlice, SegmentInfo

__all__ = [
    "AppendInfo", "CorruptBatchError", "EpochEntry", "FileHandleCache", "InvalidAppendOffsetError",
    "LeaderEpochCache", "LogConfig", "LogCorruptionError", "LogError", "OffsetOutOfRangeError",
    "PartitionLog", "ReadSlice", "RecordTooLargeError", "SegmentInfo",
]
