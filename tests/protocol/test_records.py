"""Kafka's v2 records inside a batch: round trips, varints of every width, and records
whose fields do not add up refused with InvalidRecordError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.protocol.batch_errors import InvalidRecordError
from client.protocol.records import check_records, decode_records, encode_records, zigzag_varint
from tests.protocol.strategies import records


@settings(max_examples=150, deadline=None)
@given(records, st.integers(-2**41, 2**41), st.integers(0, 2**40))
def test_round_trip_with_any_timestamp_base(recs, base_ts, base_offset) -> None:
    """A base above some timestamps makes negative deltas; far below, long varlongs."""
    data = encode_records(recs, base_ts)
    got = decode_records(data, len(recs), base_offset, base_ts)
    assert [tuple(r) for r in got] == [(base_offset + i, ts, k, v, list(h or [])) for i, (k, v, h, ts)
                                       in enumerate(recs)]


@settings(max_examples=300, deadline=None)
@given(st.integers(-2**63, 2**63 - 1))
def test_varints_of_every_width(n) -> None:
    """A header-less record whose timestamp delta is `n` reads back as `n`."""
    data = encode_records([(None, b"v", None, n)], 0)
    assert decode_records(data, 1, 0, 0)[0].timestamp == n


@settings(max_examples=150, deadline=None)
@given(records, st.integers(-2**41, 2**41), st.booleans())
def test_the_checker_agrees_with_the_decoder(recs, base_ts, keys_required) -> None:
    """check_records (the validator's walk) accepts what decode_records reads, finds the
    newest timestamp, and refuses a keyless record only when keys are required."""
    data = encode_records(recs, base_ts)
    decode_records(data, len(recs), 0, base_ts)
    if keys_required and any(k is None for k, _, _, _ in recs):
        with pytest.raises(InvalidRecordError, match="without a key"):
            check_records(data, len(recs), keys_required)
    else:
        assert check_records(data, len(recs), keys_required) == max(ts for *_, ts in recs) - base_ts


def test_the_checker_refuses_offset_deltas_out_of_order() -> None:
    data = encode_records([(b"a", b"1", None, 5), (b"b", b"2", None, 6)], 5, [0, 2])
    assert [r.offset for r in decode_records(data, 2, 0, 5)] == [0, 2]
    with pytest.raises(InvalidRecordError, match="record 1 of the batch has offset delta 2"):
        check_records(data, 2, False)


def test_varint_encoding_is_protobufs_zigzag() -> None:
    assert [zigzag_varint(n) for n in (0, -1, 1, -2, 63, -64, 64, 300)] == [
        b"\x00", b"\x01", b"\x02", b"\x03", b"\x7e", b"\x7f", b"\x80\x01", b"\xd8\x04"]


def test_explicit_offset_deltas_are_kept() -> None:
    data = encode_records([(b"a", b"1", None, 5), (b"b", b"2", None, 6)], 5, [3, 9])
    assert [r.offset for r in decode_records(data, 2, 100, 5)] == [103, 109]


GOOD = encode_records([(b"key", b"value", [("h", b"x")], 1), (None, b"v2", None, 2)], 0)


@pytest.mark.parametrize("data, count, message", [
    (GOOD, 3, "end inside record 2 of 3"),
    (GOOD, 1, "bytes remain after the 1 records"),
    (GOOD[:-1], 2, "end inside record 1"),
    (b"\x02" + GOOD[1:], 2, "fields end at byte"),                        # first record's length lies
    (b"\x0a\x00\x00\x00\x01" + b"\xff" * 10 + b"\x01", 1, "longer than 10 bytes"),  # value length
    (b"\x10\x00\x00\x00\x01\x01\x02\x01", 1, "header key has negative length"),
    (b"\x12\x00\x00\x00\x01\x01\x02\x02\xff\x01", 1, "not UTF-8"),
    (b"\x08\x00\x00\x00\x01\x01\x01", 1, "claims -1 headers"),
])
def test_malformed_records_are_refused(data, count, message) -> None:
    with pytest.raises(InvalidRecordError, match=message):
        decode_records(data, count, 0, 0)
    with pytest.raises(InvalidRecordError, match=message):
        check_records(data, count, False)
