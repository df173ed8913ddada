"""murmur2 byte-exact with Kafka's Java client, and the sticky partitioner's rules."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client import partitioner
from client.partitioner import DefaultPartitioner, murmur2, murmur2_many, partition_for_key

# Kafka's own vectors: clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java
KAFKA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def test_murmur2_matches_kafka_test_vectors() -> None:
    for data, expected in KAFKA_VECTORS.items():
        assert murmur2(data) == expected, data


def test_key_partition_is_kafkas_to_positive_mod() -> None:
    # toPositive(-973932308) = -973932308 & 0x7fffffff = 1173551340; 1173551340 % 7 = 3
    assert partition_for_key(b"21", 7) == (-973932308 & 0x7FFFFFFF) % 7 == 3


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=1000))
def test_keyed_partition_is_stable_and_in_range(key: bytes, n: int) -> None:
    p = DefaultPartitioner(random.Random(1))
    first = p.partition("t", key, list(range(n)), list(range(n)))
    assert 0 <= first < n
    assert p.partition("t", key, list(range(n)), []) == first
    assert -(2**31) <= murmur2(key) < 2**31


def test_keyless_records_stick_until_the_batch_closes() -> None:
    p = DefaultPartitioner(random.Random(7))
    parts = list(range(4))
    sticky = p.partition("t", None, parts, parts)
    assert all(p.partition("t", None, parts, parts) == sticky for _ in range(100))
    p.on_batch_closed("t", sticky, parts)
    moved = p.partition("t", None, parts, parts)
    assert moved != sticky
    p.on_batch_closed("t", sticky, parts)  # closing a batch that is no longer sticky changes nothing
    assert p.partition("t", None, parts, parts) == moved


def test_sticky_choice_prefers_partitions_with_a_leader() -> None:
    p = DefaultPartitioner(random.Random(3))
    for topic in range(50):
        assert p.partition(f"t{topic}", None, [0, 1, 2, 3], [2]) == 2


def test_sticky_partition_spreads_over_partitions() -> None:
    p = DefaultPartitioner(random.Random(11))
    parts = list(range(3))
    seen = set()
    for _ in range(60):
        current = p.partition("t", None, parts, parts)
        seen.add(current)
        p.on_batch_closed("t", current, parts)
    assert seen == {0, 1, 2}


@settings(deadline=None)  # the first example imports kafka-python, slow on a loaded machine
@given(st.lists(st.binary(max_size=40), max_size=60))
def test_murmur2_and_murmur2_many_match_kafka_python(keys: list[bytes]) -> None:
    """kafka-python's murmur2, written independently of ours, as the reference."""
    from kafka.partitioner.default import murmur2 as reference

    keys = keys + [b"k%d" % i for i in range(20)]  # enough of one length for the lanes
    many = murmur2_many(keys)
    for key in keys:
        assert murmur2(key) & 0xFFFFFFFF == reference(key) & 0xFFFFFFFF  # it gives an unsigned int
        assert many[key] == reference(key) & 0xFFFFFFFF


@given(st.lists(st.binary(max_size=70), max_size=40))
def test_compiled_murmur2_agrees_with_the_pure_one(keys: list[bytes]) -> None:
    """client/_murmur2_c.c against the Python hash it replaces, on every length class
    (under 4 bytes, under 8, longer, with 0-3 tail bytes) and Kafka's vectors."""
    compiled = pytest.importorskip("client._murmur2_c").murmur2
    for key in keys + list(KAFKA_VECTORS) + [b"", bytes(range(256))]:
        assert compiled(key) == partitioner.pure_murmur2(key), key
    assert compiled(bytearray(b"foobar")) == compiled(memoryview(b"foobar")) == -790332482 & 0xFFFFFFFF


def test_prehashed_keys_go_where_unhashed_ones_do() -> None:
    keys = [b"user-%d" % i for i in range(500)] + [bytearray(b"ba")]
    plain, prehashed = DefaultPartitioner(), DefaultPartitioner()
    prehashed.prehash(keys)
    parts = list(range(7))
    assert [prehashed.partition("t", k, parts, parts) for k in keys] == [
        plain.partition("t", k, parts, parts) for k in keys
    ]
