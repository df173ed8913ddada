"""Hypothesis strategies for records: everything Kafka's v2 records can carry.

Null and empty keys and values, a few big values (tens of KB, so varints of three
bytes and compressed streams of several blocks), headers with null values and
non-ASCII keys, timestamps far apart.
"""

from __future__ import annotations

from hypothesis import strategies as st

big_bytes = st.builds(lambda chunk, n: chunk * n, st.binary(min_size=1, max_size=8), st.integers(2_000, 20_000))
payloads = st.one_of(st.none(), st.just(b""), st.binary(max_size=64), big_bytes)
headers = st.none() | st.lists(st.tuples(st.text(max_size=8), st.none() | st.binary(max_size=16)), max_size=3)
timestamps = st.integers(min_value=0, max_value=2**41)
records = st.lists(st.tuples(payloads, payloads, headers, timestamps), min_size=1, max_size=12)
