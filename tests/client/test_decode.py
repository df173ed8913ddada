"""The consumer's batch decoder agrees with record_batch.decode_batch, byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.consumer.fetcher import CompletedFetch, decode_consumer_records
from client.protocol.record_batch import Compression, CorruptBatchError, build_batch, decode_batch
from client.structs import TopicPartition

TP = TopicPartition("topic", 3)
maybe_bytes = st.none() | st.binary(max_size=40)
records = st.lists(
    st.tuples(
        maybe_bytes,
        maybe_bytes,
        st.none() | st.lists(st.tuples(st.text(max_size=8), st.binary(max_size=8)), max_size=3),
        st.integers(min_value=0, max_value=2**40),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(records, st.integers(min_value=0, max_value=10**9), st.sampled_from(list(Compression)))
def test_matches_decode_batch(recs, base_offset, compression) -> None:
    buf = build_batch(recs, base_offset=base_offset, compression=compression)
    ours = decode_consumer_records(TP, buf, 0)
    theirs = decode_batch(buf, 0)
    assert [tuple(r[2:]) for r in ours] == [tuple(r) for r in theirs]
    assert all(r.topic == "topic" and r.partition == 3 for r in ours)


@settings(max_examples=50, deadline=None)
@given(st.lists(records, min_size=1, max_size=4), st.data())
def test_completed_fetch_skips_below_the_cursor_and_drops_a_partial_tail(batches, data) -> None:
    buf, base = b"", 0
    for recs in batches:
        buf += build_batch(recs, base_offset=base)
        base += len(recs)
    cursor = data.draw(st.integers(min_value=0, max_value=base))
    cut = data.draw(st.integers(min_value=0, max_value=60))
    fetched = CompletedFetch(TP, buf + build_batch([(None, b"x", None, 0)], base_offset=base)[:cut], cursor)
    got = fetched.decode()[fetched.index :]
    assert [r.offset for r in got] == list(range(cursor, base))


def test_a_flipped_bit_is_a_corrupt_batch() -> None:
    buf = bytearray(build_batch([(b"k", b"value", None, 1)]))
    buf[-1] ^= 1
    with pytest.raises(CorruptBatchError, match="crc"):
        decode_consumer_records(TP, bytes(buf), 0)
