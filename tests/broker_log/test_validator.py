"""The leader's validator (Kafka's LogValidator): a batch whose header lies about its
records, or that breaks a topic's rules, is refused before anything is stored."""

from __future__ import annotations

import pytest

from broker.log import LogConfig, RecordTooLargeError
from broker.log.validator import decompression_limit, validate_for_append
from client.protocol.compression import compress
from client.protocol.errors import ErrorCode
from client.protocol.record_batch import (
    HEADER_SIZE,
    Compression,
    CorruptBatchError,
    InvalidRecordError,
    UnsupportedCompressionError,
    build_batch,
    pack_batch,
    read_header,
)
from client.protocol.records import encode_records

PLAIN = LogConfig()
COMPACTED = LogConfig(cleanup_policy="compact")
RECORDS = [(b"k1", b"v1", [("h", None)], 10), (b"k2", None, None, 11), (b"k3", b"", None, 12)]


def forged(
    records=RECORDS,
    *,
    count=None,
    last_delta=None,
    deltas=None,
    attributes=0,
    codec=Compression.NONE,
    producer_id=-1,
    base_sequence=-1,
    max_timestamp=12,
) -> bytes:
    """A batch with a correct crc whose header says whatever the test wants."""
    payload = compress(codec, encode_records(records, 10, deltas))
    count = len(records) if count is None else count
    return pack_batch(
        payload,
        base_offset=0,
        record_count=count,
        last_offset_delta=count - 1 if last_delta is None else last_delta,
        attributes=attributes | int(codec),
        base_timestamp=10,
        max_timestamp=max_timestamp,
        producer_id=producer_id,
        producer_epoch=0 if producer_id >= 0 else -1,
        base_sequence=base_sequence,
    )


@pytest.mark.parametrize("codec", list(Compression))
def test_an_honest_batch_of_every_codec_passes(codec) -> None:
    batch = build_batch(RECORDS, compression=codec, producer_id=4, producer_epoch=0, base_sequence=0)
    assert validate_for_append(batch, COMPACTED) == read_header(batch)


@pytest.mark.parametrize(
    "batch, message",
    [
        (forged(count=4), "end inside record 3 of 4"),  # claims more records than it holds
        (forged(count=2), "bytes remain after the 2 records"),  # claims fewer
        (forged(last_delta=5), "last offset delta of 5"),
        (forged(deltas=[0, 2, 1]), "record 1 of the batch has offset delta 2"),
        (forged(deltas=[1, 2, 3]), "record 0 of the batch has offset delta 1"),
        (forged(attributes=0x20), "control batches"),
        (forged(max_timestamp=99), "max timestamp of 99 but its newest record has 12"),
        (forged(producer_id=9), "no base sequence"),
        (build_batch(RECORDS) + build_batch(RECORDS), "one batch per partition"),
    ],
)
def test_a_lying_batch_is_an_invalid_record(batch, message) -> None:
    with pytest.raises(InvalidRecordError, match=message) as refused:
        validate_for_append(batch, PLAIN)
    assert refused.value.code == ErrorCode.INVALID_RECORD


def test_a_keyless_record_is_refused_on_a_compacted_topic_only() -> None:
    batch = build_batch([(b"k", b"v", None, 1), (None, b"v", None, 2)])
    validate_for_append(batch, PLAIN)
    with pytest.raises(InvalidRecordError, match="record 1 of the batch has none"):
        validate_for_append(batch, COMPACTED)
    with pytest.raises(InvalidRecordError):
        validate_for_append(batch, LogConfig(cleanup_policy="compact,delete"))


@pytest.mark.parametrize("codec", [5, 6, 7])
def test_unknown_codecs_are_corrupt(codec) -> None:
    batch = forged(attributes=codec)
    with pytest.raises(UnsupportedCompressionError, match=f"codec {codec} is unknown") as refused:
        validate_for_append(batch, PLAIN)
    assert refused.value.code == ErrorCode.CORRUPT_MESSAGE


def test_damaged_bytes_are_corrupt() -> None:
    batch = bytearray(build_batch(RECORDS))
    batch[-1] ^= 1
    with pytest.raises(CorruptBatchError, match="crc") as refused:
        validate_for_append(batch, PLAIN)
    assert refused.value.code == ErrorCode.CORRUPT_MESSAGE
    with pytest.raises(CorruptBatchError, match="empty"):
        validate_for_append(b"", PLAIN)
    garbage = forged(codec=Compression.NONE)
    as_gzip = pack_batch(
        garbage[HEADER_SIZE:],
        base_offset=0,
        record_count=3,
        last_offset_delta=2,
        attributes=int(Compression.GZIP),
        base_timestamp=10,
        max_timestamp=12,
    )
    with pytest.raises(CorruptBatchError, match="gzip records do not decompress"):
        validate_for_append(as_gzip, PLAIN)


def test_too_large_is_refused_before_decoding() -> None:
    batch = build_batch([(None, b"x" * 2_000, None, 1)])
    with pytest.raises(RecordTooLargeError, match=r"max\.message\.bytes"):
        validate_for_append(batch, LogConfig(max_batch_bytes=1_000))


@pytest.mark.parametrize("codec", [Compression.GZIP, Compression.LZ4, Compression.ZSTD])
def test_a_decompression_bomb_is_refused_before_it_is_unpacked(codec) -> None:
    """A batch well under max.message.bytes whose records inflate past 64x that: refused
    as corrupt, whatever its records say. (Snappy cannot inflate 64-fold: ~21x at most.)"""
    config = LogConfig(max_batch_bytes=4_096)
    limit = decompression_limit(config)
    honest = build_batch([(None, b"\0" * (limit - 100), None, 1)], compression=codec)
    assert len(honest) < config.max_batch_bytes
    validate_for_append(honest, config)
    bomb = build_batch([(None, b"\0" * (limit + 1), None, 1)], compression=codec)
    assert len(bomb) < config.max_batch_bytes
    with pytest.raises(CorruptBatchError, match=f"decompress to more than {limit} bytes") as refused:
        validate_for_append(bomb, config)
    assert refused.value.code == ErrorCode.CORRUPT_MESSAGE


def test_the_decompression_limit_has_a_ceiling() -> None:
    assert decompression_limit(LogConfig(max_batch_bytes=1 << 20)) == 64 << 20
    assert decompression_limit(LogConfig(max_batch_bytes=1 << 40)) == 1 << 30
