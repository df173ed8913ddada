"""Which record format a partition directory holds, so that older data is never misread.

Before it spoke Kafka's record format, pybroker stored one msgpack array of records inside the same 61-byte
batch header it still writes: same fields, same CRC-32C. Read as Kafka's v2 records,
those batches would fail deep inside a consumer, or at a compaction, long after the
broker started. So:

- every partition directory this code opens holds a file `record-format` whose one
  line names the format (`kafka-record-batch-v2`), written (and fsynced) before the
  first segment;
- a directory with segment data and no such file was written earlier: its first batch
  is decoded; if it holds Kafka's v2 records (a log copied from Kafka, say) the file is
  written and the log opens; otherwise the directory is refused with
  `OldRecordFormatError`, naming the format it found. Nothing has shipped in the old
  format, so there is no migration: the operator moves the data aside.

The broker checks its whole data directory at start (`unreadable_dirs`), so a refusal
comes before it serves anything. This module must never convert or delete data.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import msgpack

from client.protocol.record_batch import HEADER_SIZE, CorruptBatchError, decode_batch, read_header

from .checkpoint import fsync_dir
from .errors import LogError

MARKER = "record-format"
CURRENT = "kafka-record-batch-v2"


class OldRecordFormatError(LogError):
    """A partition directory holds records this version cannot read; the message says which."""


def ensure(directory: Path) -> None:
    """Check `directory` holds Kafka v2 records (or none yet) and leave the marker there."""
    found = _format_of(directory)
    if found != CURRENT:
        raise OldRecordFormatError(_refusal(directory, found))
    marker = directory / MARKER
    if not marker.exists():
        tmp = marker.with_name(MARKER + ".tmp")
        with open(tmp, "w") as f:
            f.write(CURRENT + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, marker)
        fsync_dir(directory)


def unreadable_dirs(data_dir: Path) -> list[str]:
    """What is wrong with each partition directory under `data_dir` this version cannot read."""
    if not data_dir.is_dir():
        return []
    return [
        _refusal(d, found) for d in sorted(data_dir.iterdir()) if d.is_dir() and (found := _format_of(d)) != CURRENT
    ]


def _format_of(directory: Path) -> str:
    """The marker's format; without a marker, what the first batch holds."""
    marker = directory / MARKER
    if marker.exists():
        return marker.read_text().strip()
    first = next((p for p in sorted(directory.glob("*.log")) if p.stat().st_size > 0), None)
    if first is None:
        return CURRENT  # nothing written yet: whatever comes will be v2
    with open(first, "rb") as f:
        batch = f.read(HEADER_SIZE)
        try:
            batch += f.read(read_header(batch).size - HEADER_SIZE)
            decode_batch(batch)
        except CorruptBatchError:
            return _old_format(batch)
    return CURRENT


def _old_format(batch: bytes) -> str:
    """Name what a batch that is not Kafka's v2 holds: the earlier format (its records one
    msgpack array, zlib-compressed when the attributes say gzip) or something unknown."""
    records = batch[HEADER_SIZE:]
    try:
        if len(batch) >= HEADER_SIZE and read_header(batch).compression == 1:
            records = zlib.decompress(records)
        if isinstance(msgpack.unpackb(records, raw=False), list):
            return "pybroker's msgpack record format (one msgpack array per batch, before Kafka's v2 records)"
    except (ValueError, zlib.error, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        pass
    return "an unknown record format (neither Kafka's v2 records nor pybroker's earlier msgpack records)"


def _refusal(directory: Path, found: str) -> str:
    return (
        f"{directory} holds {found}; this version reads and writes only Kafka's RecordBatch v2 records "
        f"({CURRENT}) and converts nothing: move the data directory aside (or delete it) and start again"
    )
