"""The record batch: pybroker's unit of storage, replication and transfer.

Layout (big-endian), modelled on Kafka's v2 batch; the header is 61 bytes:

    offset size field
     0      8   base_offset             i64  first offset; rewritten by the leader
     8      4   batch_length            i32  bytes after this field (whole batch = 12 + batch_length)
    12      4   partition_leader_epoch  i32  stamped by the leader on append
    16      1   magic                   i8   always 2
    17      4   crc                     u32  CRC-32C of bytes [21, end)
    21      2   attributes              i16  bits 0-2 compression, bit 3 timestamp type
    23      4   last_offset_delta       i32
    27      8   base_timestamp          i64  ms since the epoch
    35      8   max_timestamp           i64
    43      8   producer_id             i64  -1 when not idempotent
    51      2   producer_epoch          i16
    53      4   base_sequence           i32
    57      4   record_count            i32
    61      .   records                      one msgpack array (compressed per attributes)

Each record is `[offset_delta, timestamp_delta, key, value, headers]`, with `headers` a
list of `[str, bytes]` pairs. The crc leaves out base_offset, batch_length,
partition_leader_epoch and magic, so the broker can assign offsets and stamp epochs
without recomputing it.

The broker only ever calls `read_header` / `validate_batch` / `set_*` here: it must never
decode records on the produce or fetch path. Clients build and decode whole batches with
one msgpack call each, never a Python-level pack per record.
"""

from __future__ import annotations

import enum
import struct
import zlib
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import crc32c
import msgpack

MAGIC = 2
HEADER = struct.Struct(">qiibIhiqqqhii")
HEADER_SIZE = HEADER.size  # 61
LOG_OVERHEAD = 12  # base_offset + batch_length: the bytes batch_length does not count
MIN_BATCH_LENGTH = HEADER_SIZE - LOG_OVERHEAD
CRC_START = 21  # first byte covered by the crc (attributes)
_BASE_OFFSET = struct.Struct(">q")
_LEADER_EPOCH = struct.Struct(">i")
_LEADER_EPOCH_AT = 12

COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_BIT = 0x08


class Compression(enum.IntEnum):
    """Codec ids in the attributes' low bits, numbered as Kafka numbers them."""

    NONE = 0
    GZIP = 1


class TimestampType(enum.IntEnum):
    CREATE_TIME = 0
    LOG_APPEND_TIME = 1


class CorruptBatchError(ValueError):
    """The bytes are not a whole, intact batch: never store or serve them."""


class UnsupportedCompressionError(CorruptBatchError):
    """The attributes name a codec this build cannot read or write."""


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


class Record(NamedTuple):
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


RecordInput = tuple[bytes | None, bytes | None, "Sequence[tuple[str, bytes]] | None", int]


def _compress(codec: int, payload: bytes) -> bytes:
    if codec == Compression.NONE:
        return payload
    if codec == Compression.GZIP:
        return zlib.compress(payload, 6)
    raise UnsupportedCompressionError(f"compression codec {codec} is not supported (use none or gzip)")


def _decompress(codec: int, payload: bytes | memoryview) -> bytes | memoryview:
    if codec == Compression.NONE:
        return payload
    if codec == Compression.GZIP:
        try:
            return zlib.decompress(payload)
        except zlib.error as e:
            raise CorruptBatchError(f"gzip payload does not decompress: {e}") from None
    raise UnsupportedCompressionError(f"compression codec {codec} is not supported (use none or gzip)")


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
    base_ts = min(r[3] for r in records)
    max_ts = max(r[3] for r in records)
    body = [
        [i, ts - base_ts, key, value, [list(h) for h in headers] if headers else []]
        for i, (key, value, headers, ts) in enumerate(records)
    ]
    payload = _compress(compression, msgpack.packb(body, use_bin_type=True))
    attributes = int(compression) & COMPRESSION_MASK
    count = len(records)
    head = HEADER.pack(
        base_offset, HEADER_SIZE - LOG_OVERHEAD + len(payload), partition_leader_epoch, MAGIC, 0,
        attributes, count - 1, base_ts, max_ts, producer_id, producer_epoch, base_sequence, count,
    )
    covered = head[CRC_START:] + payload
    return head[:17] + struct.pack(">I", crc32c.crc32c(covered)) + covered


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
            f"batch at byte {pos} claims {header.record_count} records and last offset delta "
            f"{header.last_offset_delta}"
        )
    return header


def validate_batch(buf: bytes | bytearray | memoryview, pos: int = 0) -> BatchHeader:
    """Check structure, length and crc of the batch at `pos`; the broker's only check."""
    header = read_header(buf, pos)
    end = pos + header.size
    if end > len(buf):
        raise CorruptBatchError(
            f"batch at byte {pos} claims {header.size} bytes but only {len(buf) - pos} remain"
        )
    actual = crc32c.crc32c(memoryview(buf)[pos + CRC_START:end])
    if actual != header.crc:
        raise CorruptBatchError(f"crc mismatch in batch at byte {pos}: stored {header.crc:#010x}, computed {actual:#010x}")
    return header


def set_base_offset(buf: bytearray | memoryview, pos: int, base_offset: int) -> None:
    _BASE_OFFSET.pack_into(buf, pos, base_offset)


def set_partition_leader_epoch(buf: bytearray | memoryview, pos: int, epoch: int) -> None:
    _LEADER_EPOCH.pack_into(buf, pos + _LEADER_EPOCH_AT, epoch)


def decode_batch(buf: bytes | bytearray | memoryview, pos: int = 0, *, check_crc: bool = True) -> list[Record]:
    """Every record of the batch at `pos`, decoded with one msgpack call."""
    header = validate_batch(buf, pos) if check_crc else read_header(buf, pos)
    end = pos + header.size
    if end > len(buf):
        raise CorruptBatchError(f"batch at byte {pos} runs past the end of the buffer")
    payload = _decompress(header.compression, memoryview(buf)[pos + HEADER_SIZE:end])
    try:
        body = msgpack.unpackb(payload, raw=False, use_list=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as e:
        raise CorruptBatchError(f"records of batch at byte {pos} do not decode: {e}") from None
    if not isinstance(body, list) or len(body) != header.record_count:
        raise CorruptBatchError(f"batch at byte {pos} holds a body that is not {header.record_count} records")
    base, base_ts = header.base_offset, header.base_timestamp
    append_time = header.timestamp_type is TimestampType.LOG_APPEND_TIME
    try:
        return [
            Record(
                base + od, header.max_timestamp if append_time else base_ts + td, key, value,
                [(h[0], h[1]) for h in headers] if headers else [],
            )
            for od, td, key, value, headers in body
        ]
    except (TypeError, ValueError, IndexError) as e:
        raise CorruptBatchError(f"a record of batch at byte {pos} is malformed: {e}") from None


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
