"""Kafka's v2 records inside a batch: round trips, varints of every width, and records
whose fields do not add up refused with InvalidRecordError. Every test runs against
both codecs: the pure-Python one and the compiled one (skipped where it was not built)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.protocol.batch_errors import InvalidRecordError
from client.protocol.records import zigzag_varint
from tests.client_protocol.strategies import CODECS, MALFORMED, records

codecs = pytest.mark.parametrize("codec", CODECS)


@pytest.mark.slow
@codecs
@settings(max_examples=150, deadline=None)
@given(records, st.integers(-(2**41), 2**41), st.integers(0, 2**40))
def test_round_trip_with_any_timestamp_base(codec, recs, base_ts, base_offset) -> None:
    """A base above some timestamps makes negative deltas; far below, long varlongs."""
    data = codec.encode(recs, base_ts)
    got = codec.decode(data, len(recs), base_offset, base_ts)
    assert [tuple(r) for r in got] == [
        (base_offset + i, ts, k, v, list(h or [])) for i, (k, v, h, ts) in enumerate(recs)
    ]


@codecs
@settings(max_examples=300, deadline=None)
@given(st.integers(-(2**63), 2**63 - 1))
def test_varints_of_every_width(codec, n) -> None:
    """A header-less record whose timestamp delta is `n` reads back as `n`."""
    data = codec.encode([(None, b"v", None, n)], 0)
    assert codec.decode(data, 1, 0, 0)[0].timestamp == n


@pytest.mark.slow
@codecs
@settings(max_examples=150, deadline=None)
@given(records, st.integers(-(2**41), 2**41), st.booleans())
def test_the_checker_agrees_with_the_decoder(codec, recs, base_ts, keys_required) -> None:
    """check_records (the validator's walk) accepts what decode_records reads, finds the
    newest timestamp, and refuses a keyless record only when keys are required."""
    data = codec.encode(recs, base_ts)
    codec.decode(data, len(recs), 0, base_ts)
    if keys_required and any(k is None for k, _, _, _ in recs):
        with pytest.raises(InvalidRecordError, match="without a key"):
            codec.check(data, len(recs), keys_required)
    else:
        assert codec.check(data, len(recs), keys_required) == max(ts for *_, ts in recs) - base_ts


@codecs
def test_the_checker_refuses_offset_deltas_out_of_order(codec) -> None:
    data = codec.encode([(b"a", b"1", None, 5), (b"b", b"2", None, 6)], 5, [0, 2])
    assert [r.offset for r in codec.decode(data, 2, 0, 5)] == [0, 2]
    with pytest.raises(InvalidRecordError, match="record 1 of the batch has offset delta 2"):
        codec.check(data, 2, False)


def test_varint_encoding_is_protobufs_zigzag() -> None:
    assert [zigzag_varint(n) for n in (0, -1, 1, -2, 63, -64, 64, 300)] == [
        b"\x00",
        b"\x01",
        b"\x02",
        b"\x03",
        b"\x7e",
        b"\x7f",
        b"\x80\x01",
        b"\xd8\x04",
    ]


@codecs
def test_explicit_offset_deltas_are_kept(codec) -> None:
    data = codec.encode([(b"a", b"1", None, 5), (b"b", b"2", None, 6)], 5, [3, 9])
    assert [r.offset for r in codec.decode(data, 2, 100, 5)] == [103, 109]


@codecs
@pytest.mark.parametrize("data, count, message", MALFORMED)
def test_malformed_records_are_refused(codec, data, count, message) -> None:
    with pytest.raises(InvalidRecordError, match=message):
        codec.decode(data, count, 0, 0)
    with pytest.raises(InvalidRecordError, match=message):
        codec.check(data, count, False)
