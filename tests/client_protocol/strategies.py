"""Hypothesis strategies for records: everything Kafka's v2 records can carry.

Null and empty keys and values, a few big values (tens of KB, so varints of three
bytes and compressed streams of several blocks), headers with null values and
non-ASCII keys, timestamps far apart. Also the two record codecs (pure Python and
compiled) as test parameters, and the malformed records each must refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import pytest
from hypothesis import strategies as st

from client.protocol import records as _records

big_bytes = st.builds(lambda chunk, n: chunk * n, st.binary(min_size=1, max_size=8), st.integers(2_000, 20_000))
payloads = st.one_of(st.none(), st.just(b""), st.binary(max_size=64), big_bytes)
headers = st.none() | st.lists(st.tuples(st.text(max_size=8), st.none() | st.binary(max_size=16)), max_size=3)
timestamps = st.integers(min_value=0, max_value=2**41)
records = st.lists(st.tuples(payloads, payloads, headers, timestamps), min_size=1, max_size=12)


class Codec(NamedTuple):
    encode: Callable
    decode: Callable
    check: Callable


PURE = Codec(_records.pure_encode_records, _records.pure_decode_records, _records.pure_check_records)
try:
    from client.protocol import _records_c
except ImportError:
    _records_c = None
else:
    _records_c.init(_records.InvalidRecordError, _records.Record)
    COMPILED = Codec(_records_c.encode_records, _records_c.decode_records, _records_c.check_records)

CODECS = [
    pytest.param(PURE, id="python"),
    pytest.param(
        COMPILED if _records_c else None,
        id="c",
        marks=pytest.mark.skipif(_records_c is None, reason="the compiled record codec is not built"),
    ),
]

_GOOD = PURE.encode([(b"key", b"value", [("h", b"x")], 1), (None, b"v2", None, 2)], 0)

# (records, count, the message InvalidRecordError must carry)
MALFORMED = [
    (_GOOD, 3, "end inside record 2 of 3"),
    (_GOOD, 1, "bytes remain after the 1 records"),
    (_GOOD[:-1], 2, "end inside record 1"),
    (b"\x02" + _GOOD[1:], 2, "fields end at byte"),  # first record's length lies
    (b"\x0a\x00\x00\x00\x01" + b"\xff" * 10 + b"\x01", 1, "longer than 10 bytes"),  # value length
    (b"\x10\x00\x00\x00\x01\x01\x02\x01", 1, "header key has negative length"),
    (b"\x12\x00\x00\x00\x01\x01\x02\x02\xff\x01", 1, "not UTF-8"),
    (b"\x08\x00\x00\x00\x01\x01\x01", 1, "claims -1 headers"),
]
