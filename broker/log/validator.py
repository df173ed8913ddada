"""The leader's check of a client's records before they are appended: Kafka's LogValidator.

A produce brings, per partition, one v2 batch whose header says how many records it
holds and what their offsets and timestamps span; the log trusts that header from then
on (offsets are assigned from `last_offset_delta`, indexes from `max_timestamp`,
replicas and consumers read it). So before the first byte is stored, the leader checks
that the header tells the truth about the records, as Kafka's LogValidator does:

- exactly one batch, with a crc that matches (CORRUPT_MESSAGE otherwise), no larger
  than max.message.bytes (MESSAGE_TOO_LARGE, checked before anything is decoded);
- a codec Kafka knows (0-4), and records that decompress to at most
  DECOMPRESSION_FACTOR x max.message.bytes, 1 GiB at most (CORRUPT_MESSAGE beyond: a few KB of zstd
  can inflate to gigabytes, and we hold the records in memory to walk them);
- record_count records that decode, filling the batch exactly, with offset deltas
  0, 1, ..., n-1 and last_offset_delta = n-1;
- a max_timestamp that is the newest record's (create time): the time index and
  ListOffsets trust it. Kafka rewrites a wrong one; we never change the bytes, so refuse;
- no control batch from a client, and a base sequence whenever a producer id is set;
- on a compacted topic, a key on every record.

The intact-but-lying cases raise InvalidRecordError (Kafka's INVALID_RECORD); damaged
bytes raise CorruptBatchError (CORRUPT_MESSAGE). Validating decompresses and decodes
every record, as Kafka does (records.check_records: a walk that builds nothing); that
walk is the produce path's one per-record cost.
This module must never change the bytes (never recompress, never rewrite offsets:
the log stamps offsets and epochs) and never append: it only refuses.
"""

from __future__ import annotations

from client.protocol.record_batch import (
    BatchHeader,
    CorruptBatchError,
    InvalidRecordError,
    TimestampType,
    records_bytes,
    validate_batch,
)
from client.protocol.records import check_records

from .config import LogConfig
from .errors import RecordTooLargeError

CONTROL_BIT = 0x20
# Producers bound a batch by its uncompressed size (librdkafka, kafka-python) or by an
# estimate of the compressed one (the Java client), so real batches inflate a few times
# over; 64x the topic's limit (64 MiB by default) leaves text that compresses very well
# room, and bounds what one produce can make the broker allocate; the ceiling keeps a
# topic with a huge max.message.bytes from lifting the bound with it.
DECOMPRESSION_FACTOR = 64
DECOMPRESSION_CEILING = 1 << 30


def decompression_limit(config: LogConfig) -> int:
    """The most bytes one batch's records may decompress to on a log with `config`."""
    return min(config.max_batch_bytes * DECOMPRESSION_FACTOR, DECOMPRESSION_CEILING)


def validate_for_append(batch: bytes | bytearray | memoryview, config: LogConfig) -> BatchHeader:
    """The header of `batch` if a client may append it to a log with `config`; raises
    CorruptBatchError (or its subclass InvalidRecordError) naming the first rule it
    breaks, or RecordTooLargeError before decoding anything too big."""
    if len(batch) == 0:
        raise CorruptBatchError("nothing to append: the records are empty")
    header = validate_batch(batch, 0)
    if header.size > config.max_batch_bytes:
        raise RecordTooLargeError(
            f"a batch of {header.size} bytes is larger than max.message.bytes ({config.max_batch_bytes}); "
            "send smaller batches or raise the topic's limit"
        )
    if header.size != len(batch):
        raise InvalidRecordError(
            f"{len(batch) - header.size} bytes follow the batch: a produce carries one batch per partition"
        )
    count = header.record_count
    if header.last_offset_delta != count - 1:
        raise InvalidRecordError(
            f"the batch claims {count} records but a last offset delta of "
            f"{header.last_offset_delta} (it must be {count - 1})"
        )
    if header.attributes & CONTROL_BIT:
        raise InvalidRecordError("clients may not write control batches")
    if header.producer_id >= 0 and header.base_sequence < 0:
        raise InvalidRecordError(
            f"batch of producer {header.producer_id} has no base sequence ({header.base_sequence})"
        )
    top = check_records(records_bytes(batch, 0, header, decompression_limit(config)), count, config.compacted)
    if top is None:
        raise InvalidRecordError("the batch holds no records: a batch carries at least one")
    newest = header.base_timestamp + top
    if header.timestamp_type is TimestampType.CREATE_TIME and newest != header.max_timestamp:
        raise InvalidRecordError(
            f"the batch claims a max timestamp of {header.max_timestamp} but its newest record has {newest}"
        )
    return header
