"""The record batch: pybroker's unit of storage, replication and transfer, as Kafka's v2.

Layout (big-endian), Kafka's RecordBatch v2 byte for byte; the header is 61 bytes:

    offset size field
     0      8   base_offset             i64  first offset; rewritten by the leader
     8      4   batch_length            i32  bytes after this field (whole batch = 12 + batch_length)
    12      4   partition_leader_epoch  i32  stamped by the leader on append
    16      1   magic                   i8   always 2
    17      4   crc                     u32  CRC-32C of bytes [21, end)
    21      2   attributes              i16  bits 0-2 compression (compression.py), bit 3 timestamp type
    23      4   last_offset_delta       i32
    27      8   base_timestamp          i64  ms since the epoch
    35      8   max_timestamp           i64
    43      8   producer_id             i64  -1 when not idempotent
    51      2   producer_epoch          i16
    53      4   base_sequence           i32
    57      4   record_count            i32
    61      .   records                      Kafka's v2 records (records.py), compressed per attributes

The crc leaves out base_offset, batch_length, partition_leader_epoch and magic, so the
broker can assign offsets and stamp epochs without recomputing it.

The broker's produce and fetch paths call only `read_header` / `validate_batch` /
`set_*` here, and the leader's validator (broker/log/validator.py) `records_bytes`;
the records themselves are read by clients, compaction, the group coordinator and
ListOffsets by timestamp. This module must never decide whether a batch may be
appended (the log and its validator do).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import crc32c

from client.protocol.batch_errors import CorruptBatchError, InvalidRecordError, UnsupportedCompressionError
from client.protocol.compression import Compression, compress, decompress
from client.protocol.records import Record, RecordInput, decode_records, encode_records

MAGIC = 2
HEADER = struct.Struct(">qiibIhiqqqhii")
HEADER_SIZE = HEADER.size  # 61
LOG_OVERHEAD = 12  # base_offset + batch_length: the bytes batch_length does not count
MIN_BATCH_LENGTH = HEADER_SIZE - LOG_OVERHEAD
CRC_START = 21  # first byte covered by the crc (attributes)
CRC_AT = 17
_CRC = struct.Struct(">I")
_BASE_OFFSET = struct.Struct(">q")
_LEADER_EPOCH = struct.Struct(">i")
_LEADER_EPOCH_AT = 12

COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_BIT = 0x08

__all__ = [
    "BatchHeader",
    "Compression",
    "CorruptBatchError",
    "InvalidRecordError",
    "Record",
    "RecordInput",
    "TimestampType",
    "UnsupportedCompressionError",
    "build_batch",
    "decode_batch",
    "iter_batches",
    "pack_batch",
    "read_header",
    "records_bytes",
    "set_base_offset",
    "set_partition_leader_epoch",
    "validate_batch",
]


class TimestampType(enum.IntEnum):
    CREATE_TIME = 0
    LOG_APPEND_TIME = 1


class BatchHeader(NamedTuple):
    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int

    @property
    def size(self) -> int:
        """Bytes the whole batch takes on disk and on the wire."""
        return LOG_OVERHEAD + self.batch_length

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def compression(self) -> int:
        return self.attributes & COMPRESSION_MASK

    @property
    def timestamp_type(self) -> TimestampType:
        return TimestampType.LOG_APPEND_TIME if self.attributes & TIMESTAMP_TYPE_BIT else TimestampType.CREATE_TIME


def pack_batch(
    records: bytes | bytearray | memoryview,
    *,
    base_offset: int,
    last_offset_delta: int,
    record_count: int,
    attributes: int,
    base_timestamp: int,
    max_timestamp: int,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    partition_leader_epoch: int = -1,
) -> bytes:
    """A header for `records` (already encoded and compressed per `attributes`), crc included."""
    head = HEADER.pack(
        base_offset,
        HEADER_SIZE - LOG_OVERHEAD + len(records),
        partition_leader_epoch,
        MAGIC,
        0,
        attributes,
        last_offset_delta,
        base_timestamp,
        max_timestamp,
        producer_id,
        producer_epoch,
        base_sequence,
        record_count,
    )
    covered = memoryview(head)[CRC_START:]
    crc = crc32c.crc32c(records, crc32c.crc32c(covered))
    return b"".join((head[:CRC_AT], _CRC.pack(crc), covered, records))


def build_batch(
    records: Sequence[RecordInput],
    *,
    base_offset: int = 0,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    partition_leader_epoch: int = -1,
    compression: Compression = Compression.NONE,
) -> bytes:
    """Encode `(key, value, headers, timestamp_ms)` tuples as one batch.

    An empty batch is refused: Kafka never writes one, and offsets could not be
    assigned to it.
    """
    if not records:
        raise ValueError("a record batch needs at least one record")
    timestamps = [r[3] for r in records]
    base_ts, count = min(timestamps), len(records)
    payload = compress(compression, encode_records(records, base_ts))
    return pack_batch(
        payload,
        base_offset=base_offset,
        last_offset_delta=count - 1,
        record_count=count,
        attributes=int(compression) & COMPRESSION_MASK,
        base_timestamp=base_ts,
        max_timestamp=max(timestamps),
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        partition_leader_epoch=partition_leader_epoch,
    )


def read_header(buf: bytes | bytearray | memoryview, pos: int = 0) -> BatchHeader:
    """Parse and sanity-check a header without touching the records or the crc."""
    available = len(buf) - pos
    if pos < 0 or available < HEADER_SIZE:
        raise CorruptBatchError(f"truncated batch header at byte {pos}: {max(available, 0)} of {HEADER_SIZE} bytes")
    header = BatchHeader._make(HEADER.unpack_from(buf, pos))
    if header.magic != MAGIC:
        raise CorruptBatchError(f"unknown batch magic {header.magic} at byte {pos} (expected {MAGIC})")
    if header.batch_length < MIN_BATCH_LENGTH:
        raise CorruptBatchError(f"batch length {header.batch_length} at byte {pos} is below the header size")
    if header.record_count < 1 or header.last_offset_delta < header.record_count - 1:
        raise CorruptBatchError(
            f"batch at byte {pos} claims {header.record_count} records and last offset delta {header.last_offset_delta}"
        )
    return header


def validate_batch(buf: bytes | bytearray | memoryview, pos: int = 0) -> BatchHeader:
    """Check structure, length and crc of the batch at `pos`; the broker's only check."""
    header = read_header(buf, pos)
    end = pos + header.size
    if end > len(buf):
        raise CorruptBatchError(f"batch at byte {pos} claims {header.size} bytes but only {len(buf) - pos} remain")
    actual = crc32c.crc32c(memoryview(buf)[pos + CRC_START : end])
    if actual != header.crc:
        raise CorruptBatchError(
            f"crc mismatch in batch at byte {pos}: stored {header.crc:#010x}, computed {actual:#010x}"
        )
    return header


def set_base_offset(buf: bytearray | memoryview, pos: int, base_offset: int) -> None:
    _BASE_OFFSET.pack_into(buf, pos, base_offset)


def set_partition_leader_epoch(buf: bytearray | memoryview, pos: int, epoch: int) -> None:
    _LEADER_EPOCH.pack_into(buf, pos + _LEADER_EPOCH_AT, epoch)


def records_bytes(
    buf: bytes | bytearray | memoryview, pos: int, header: BatchHeader, limit: int | None = None
) -> bytes:
    """The records of the batch at `pos` (whose header is `header`), decompressed, and
    CorruptBatchError if that would take more than `limit` bytes."""
    end = pos + header.size
    if end > len(buf):
        raise CorruptBatchError(f"batch at byte {pos} runs past the end of the buffer")
    return bytes(decompress(header.compression, memoryview(buf)[pos + HEADER_SIZE : end], limit))


def decode_batch(
    buf: bytes | bytearray | memoryview,
    pos: int = 0,
    *,
    check_crc: bool = True,
    cls: type[tuple[Any, ...]] = Record,
    head: tuple[Any, ...] = (),
) -> list[Any]:
    """Every record of the batch at `pos`, with absolute offsets and timestamps, as
    `cls` named tuples of `head` + Record's fields (records.decode_records)."""
    header = validate_batch(buf, pos) if check_crc else read_header(buf, pos)
    try:
        records = decode_records(
            records_bytes(buf, pos, header), header.record_count, header.base_offset, header.base_timestamp, cls, head
        )
    except InvalidRecordError as exc:
        raise type(exc)(f"batch at byte {pos} (offset {header.base_offset}): {exc}") from None
    if header.timestamp_type is TimestampType.LOG_APPEND_TIME:  # every record takes the batch's time
        return [r._replace(timestamp=header.max_timestamp) for r in records]
    return records


def iter_batches(buf: bytes | bytearray | memoryview) -> Iterator[BatchHeader]:
    """Headers of the whole batches laid back to back in `buf`, stopping at a partial tail.

    A fetch may end in the middle of a batch (max_bytes cut it); that tail is not an
    error, it is simply fetched again next time. A corrupt header still raises.
    """
    pos, size = 0, len(buf)
    while size - pos >= HEADER_SIZE:
        header = read_header(buf, pos)
        if pos + header.size > size:
            return
        yield header
        pos += header.size
