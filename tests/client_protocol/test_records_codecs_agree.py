"""The compiled record codec against the pure-Python one: the same bytes from the same
records, the same records (or the same InvalidRecordError, message and all) from the
same bytes, however damaged, and no crash on any bytes at all. Skipped where the
compiled codec was not built (the pure one is then the only one, and test_records.py
covers it)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.protocol.batch_errors import InvalidRecordError
from tests.client_protocol.strategies import MALFORMED, PURE, records

_records_c = pytest.importorskip("client.protocol._records_c", reason="the compiled record codec is not built")
from tests.client_protocol.strategies import COMPILED  # noqa: E402  (exists once the module imports)


class Consumed(NamedTuple):
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list


def outcome(fn, *args):
    """("ok", result with types) or ("refused", message): what a caller of `fn` sees."""
    try:
        result = fn(*args)
    except InvalidRecordError as exc:
        return "refused", str(exc)
    if isinstance(result, list):
        return "ok", [(type(r), tuple(r)) for r in result]
    return "ok", result


def assert_agree(data: bytes, count: int, base_offset: int = 0, base_ts: int = 0) -> None:
    for keys_required in (False, True):
        assert outcome(COMPILED.check, data, count, keys_required) == outcome(PURE.check, data, count, keys_required)
    assert outcome(COMPILED.decode, data, count, base_offset, base_ts) == outcome(
        PURE.decode, data, count, base_offset, base_ts
    )
    head = ("t", 3)
    assert outcome(COMPILED.decode, data, count, base_offset, base_ts, Consumed, head) == outcome(
        PURE.decode, data, count, base_offset, base_ts, Consumed, head
    )


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(records, st.integers(-(2**41), 2**41), st.integers(0, 2**62), st.booleans(), st.data())
def test_same_bytes_and_same_records(recs, base_ts, base_offset, explicit_deltas, data) -> None:
    """Null keys and values, headers with null values, unicode header keys, big and empty
    values, timestamps on both sides of the base; offset deltas given (negative ones too)."""
    deltas = (
        data.draw(st.lists(st.integers(-(2**31), 2**31), min_size=len(recs), max_size=len(recs)))
        if explicit_deltas
        else None
    )
    encoded = COMPILED.encode(recs, base_ts, deltas)
    assert encoded == PURE.encode(recs, base_ts, deltas)
    assert_agree(encoded, len(recs), base_offset, base_ts)


@settings(max_examples=300, deadline=None)
@given(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**63), 2**63 - 1))
def test_varints_at_the_edges_of_64_bits(ts, base_offset) -> None:
    encoded = COMPILED.encode([(None, b"v", None, ts)], 0)
    assert encoded == PURE.encode([(None, b"v", None, ts)], 0)
    assert_agree(encoded, 1, base_offset, 2**62)


@pytest.mark.parametrize("data, count, message", MALFORMED)
def test_the_same_refusals_of_malformed_records(data, count, message) -> None:
    with pytest.raises(InvalidRecordError, match=message):
        COMPILED.decode(data, count, 0, 0)
    assert_agree(data, count)


mutations = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 2**16), st.just(0)),
    st.tuples(st.just("set"), st.integers(0, 2**16), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.integers(0, 2**16), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 2**16), st.just(0)),
)


def mutate(data: bytes, how: tuple[str, int, int]) -> bytes:
    kind, at, byte = how
    at = at % (len(data) + 1)
    if kind == "truncate":
        return data[:at]
    if kind == "insert":
        return data[:at] + bytes([byte]) + data[at:]
    if kind == "delete":
        return data[:at] + data[at + 1 :]
    return data[:at] + bytes([byte]) + data[at + 1 :] if at < len(data) else data


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(records, st.lists(mutations, min_size=1, max_size=4), st.integers(-2, 2))
def test_the_same_answer_for_damaged_and_lying_records(recs, how, count_lie) -> None:
    """Truncated, overwritten, grown and shrunk bytes, and a count that lies: the two
    codecs give the same records or the same refusal."""
    data = PURE.encode(recs, 0)
    for one in how:
        data = mutate(data, one)
    assert_agree(data, len(recs) + count_lie, 5, 7)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.integers(-1, 8))
def test_the_same_answer_for_random_bytes(data, count) -> None:
    assert_agree(data, count)


# Runs in a child: a bad read would kill the child, not the test run. Bounded: a fixed
# number of inputs from a fixed seed, some random, some mutated real records.
_FUZZ = """
import random, sys
from client.protocol import records
from client.protocol.batch_errors import InvalidRecordError
from client.protocol import _records_c as c
assert records.CODEC == "c"
rng = random.Random(int(sys.argv[1]))
good = records.pure_encode_records(
    [(b"k" * rng.randrange(300), None if i % 3 == 0 else b"v" * rng.randrange(5000),
      [("h\\u00e9", None), ("x", b"y")] if i % 2 else None, rng.randrange(-2**40, 2**40)) for i in range(20)], 0)
for n in range(int(sys.argv[2])):
    if n % 2:
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
    else:
        data = bytearray(good[:rng.randrange(len(good) + 1)])
        for _ in range(rng.randrange(1, 6)):
            if data:
                data[rng.randrange(len(data))] = rng.choice([0, 1, 0x7f, 0x80, 0xff, rng.randrange(256)])
        data = bytes(data)
    count = rng.randrange(-1, 25)
    for call in (lambda: c.decode_records(data, count, 0, 0), lambda: c.check_records(data, count, n % 3 == 0)):
        try:
            call()
        except InvalidRecordError:
            pass
print("survived")
"""


def test_random_bytes_never_crash_the_process() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("PYBROKER_PURE_PYTHON", None)
    done = subprocess.run(
        [sys.executable, "-c", _FUZZ, "11", "20000"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "survived"
