"""The record batch codec: round trips for every codec, crc coverage, and refusal of damaged or lying bytes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.protocol.record_batch import (
    HEADER_SIZE,
    TIMESTAMP_TYPE_BIT,
    Compression,
    CorruptBatchError,
    InvalidRecordError,
    TimestampType,
    UnsupportedCompressionError,
    build_batch,
    decode_batch,
    iter_batches,
    pack_batch,
    read_header,
    set_base_offset,
    set_partition_leader_epoch,
    validate_batch,
)
from tests.client_protocol.strategies import records


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(records, st.integers(0, 2**40), st.sampled_from(list(Compression)))
def test_round_trip(recs, base_offset, compression) -> None:
    batch = bytearray(build_batch(recs, compression=compression))
    set_base_offset(batch, 0, base_offset)
    header = validate_batch(batch)
    assert header.size == len(batch)
    assert header.record_count == len(recs)
    assert header.last_offset == base_offset + len(recs) - 1
    assert header.max_timestamp == max(r[3] for r in recs)
    decoded = decode_batch(batch)
    assert [r.offset for r in decoded] == list(range(base_offset, base_offset + len(recs)))
    assert [(r.key, r.value, r.headers, r.timestamp) for r in decoded] == [
        (k, v, list(h or []), ts) for k, v, h, ts in recs
    ]


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(records, st.data())
def test_any_single_bit_flip_is_caught(recs, data) -> None:
    """Bits covered by the crc fail the crc; the others fail a structural check or only
    touch the fields the leader rewrites (base offset, leader epoch)."""
    batch = bytearray(build_batch(recs))
    bit = data.draw(st.integers(0, len(batch) * 8 - 1))
    batch[bit // 8] ^= 1 << (bit % 8)
    byte = bit // 8
    if byte < 8 or 12 <= byte < 16:  # base_offset, partition_leader_epoch: outside the crc by design
        validate_batch(batch)
        return
    with pytest.raises(CorruptBatchError):
        validate_batch(batch)


def test_leader_rewrites_do_not_break_the_crc() -> None:
    batch = bytearray(build_batch([(b"k", b"v", None, 5)]))
    set_base_offset(batch, 0, 1234)
    set_partition_leader_epoch(batch, 0, 9)
    header = validate_batch(batch)
    assert (header.base_offset, header.partition_leader_epoch) == (1234, 9)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b[: HEADER_SIZE - 1], "truncated batch header"),
        (lambda b: b[:16] + b"\x05" + b[17:], "unknown batch magic"),
        (lambda b: b[:8] + struct.pack(">i", 10**6) + b[12:], "only"),
        (lambda b: b[:8] + struct.pack(">i", -5) + b[12:], "below the header size"),
        (lambda b: b[:-1] + bytes([b[-1] ^ 0xFF]), "crc mismatch"),
        (lambda b: b[:57] + struct.pack(">i", -1) + b[61:], "claims -1 records"),
        (lambda b: b[:27] + struct.pack(">q", 77) + b[35:], "crc mismatch"),
    ],
)
def test_bad_input_gives_a_clear_error(mutate, message) -> None:
    batch = build_batch([(b"k", b"value", None, 1), (None, b"x", None, 2)])
    with pytest.raises(CorruptBatchError, match=message):
        validate_batch(mutate(batch))


@pytest.mark.parametrize("codec", [5, 6, 7])
def test_unknown_compression_is_refused(codec) -> None:
    batch = bytearray(build_batch([(b"k", b"v", None, 1)]))
    batch[21:23] = struct.pack(">h", codec)
    with pytest.raises(UnsupportedCompressionError, match=f"codec {codec} is unknown"):
        decode_batch(batch, check_crc=False)


def test_a_batch_whose_count_lies_does_not_decode() -> None:
    """The crc is right (the liar computed it), yet the records are fewer than claimed."""
    batch = build_batch([(b"k", b"v", None, 1), (b"k2", b"v2", None, 1)])
    header = read_header(batch)
    liar = pack_batch(
        batch[HEADER_SIZE:],
        base_offset=0,
        last_offset_delta=2,
        record_count=3,
        attributes=header.attributes,
        base_timestamp=1,
        max_timestamp=1,
    )
    with pytest.raises(InvalidRecordError, match="end inside record 2 of 3"):
        decode_batch(liar)


def test_log_append_time_gives_every_record_the_batch_time() -> None:
    batch = build_batch([(None, b"a", None, 5), (None, b"b", None, 7)])
    header = read_header(batch)
    stamped = pack_batch(
        batch[HEADER_SIZE:],
        base_offset=0,
        last_offset_delta=1,
        record_count=2,
        attributes=TIMESTAMP_TYPE_BIT,
        base_timestamp=5,
        max_timestamp=99,
    )
    assert header.timestamp_type is TimestampType.CREATE_TIME
    assert [r.timestamp for r in decode_batch(stamped)] == [99, 99]


def test_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError):
        build_batch([])


def test_iter_batches_stops_at_a_partial_tail() -> None:
    a = build_batch([(None, b"a", None, 1)])
    b = build_batch([(None, b"b" * 50, None, 2), (None, b"c", None, 3)])
    joined = a + b
    assert [h.record_count for h in iter_batches(joined)] == [1, 2]
    assert [h.record_count for h in iter_batches(joined[:-10])] == [1]
    assert list(iter_batches(joined[: HEADER_SIZE - 1])) == []
