"""Choosing a partition for a record: murmur2 of the key as Kafka does, sticky without a key.

A keyed record goes to `(murmur2(key) & 0x7fffffff) % num_partitions`, bit-exact with
Kafka's Java client, so a key lands on the same partition whichever client wrote it.
Keyless records stick to one partition until its batch is closed (KIP-480), which makes
full batches instead of many tiny ones. murmur2 is compiled (client/_murmur2_c.c) where
setup.py could build it; where not (or with PYBROKER_PURE_PYTHON=1) it runs in Python at
about a microsecond a key, and a producer that hands records over in bursts calls
`prehash` with the burst's keys, which hashes them all at once with whole-burst integer
arithmetic (each key a 64-bit lane of one big int), several times cheaper per key. This
module must never look at the network or the clock: the accumulator tells it when a
batch closes.
"""

from __future__ import annotations

import collections
import random
import struct
from collections.abc import Iterable, Sequence

from client.compiled import compiled

_M = 0x5BD1E995
_SEED = 0x9747B28C
_MASK = 0xFFFFFFFF
# (seed ^ length) * m for the short keys, where it is the only use of the seed
_SEEDED = [((_SEED ^ n) * _M) & _MASK for n in range(8)]
# Below this many keys of one length, one at a time is cheaper than the lanes' set-up.
_LANES_FROM = 8


def murmur2(data: bytes) -> int:
    """Kafka's 32-bit MurmurHash2 (seed 0x9747b28c), as a signed 32-bit int like Java's."""
    h = _murmur2(data)
    return h - (1 << 32) if h & 0x80000000 else h


def _murmur2(data: bytes) -> int:
    """murmur2 as an unsigned int; the arithmetic is Kafka's, regrouped so Python does fewer steps."""
    length = len(data)
    whole = int.from_bytes(data, "little")
    if length < 4:
        h = (((_SEED ^ length ^ whole) * _M) & _MASK) if length else _SEED
    elif length < 8:
        k = (whole & _MASK) * _M & _MASK
        h = (_SEEDED[length] ^ (k ^ k >> 24) * _M) & _MASK
        if length > 4:
            h = ((h ^ whole >> 32) * _M) & _MASK
    else:
        h = _SEED ^ length
        end = (length & ~3) << 3
        for shift in range(0, end, 32):
            k = ((whole >> shift) & _MASK) * _M & _MASK
            h = (h * _M ^ (k ^ k >> 24) * _M) & _MASK
        if length & 3:
            h = ((h ^ whole >> end) * _M) & _MASK
    h ^= h >> 13
    h = h * _M & _MASK
    return h ^ h >> 15


pure_murmur2 = _murmur2
_c = compiled("client._murmur2_c")
COMPILED = _c is not None
if _c is not None:
    _murmur2 = _c.murmur2


def murmur2_many(keys: Iterable[bytes]) -> dict[bytes, int]:
    """{key: unsigned murmur2} for many keys: the keys of each length are hashed together,
    one 64-bit lane each of a big int, so each step of the hash is one big-int operation."""
    by_length: dict[int, list[bytes]] = collections.defaultdict(list)
    for key in keys:
        by_length[len(key)].append(key)
    hashes: dict[bytes, int] = {}
    for length, group in by_length.items():
        if len(group) < _LANES_FROM:
            hashes.update((key, _murmur2(key)) for key in group)
        else:
            hashes.update(zip(group, _murmur2_lanes(group, length), strict=True))
    return hashes


def _murmur2_lanes(keys: list[bytes], length: int) -> tuple[int, ...]:
    """Unsigned murmur2 of keys all `length` bytes long. Key i's state lives in bits
    64i..64i+31 of one int; a product of two 32-bit values fits its lane's 64 bits, and
    every shift or product is masked back to 32 bits per lane before the next one."""
    count = len(keys)
    ones = int.from_bytes(b"\x01\x00\x00\x00\x00\x00\x00\x00" * count, "little")
    mask = ones * _MASK
    joined = b"".join(keys)
    h = ones * (_SEED ^ length)
    words = length >> 2
    for j in range(words):
        k = _lane_bytes(joined, length, count, 4 * j, 4) * _M & mask
        k = (k ^ k >> 24) & mask
        h = (h * _M ^ k * _M) & mask
    rest = length & 3
    if rest:
        h = (h ^ _lane_bytes(joined, length, count, 4 * words, rest)) * _M & mask
    h = (h ^ h >> 13) & mask
    h = h * _M & mask
    h = (h ^ h >> 15) & mask
    return struct.unpack(f"<{count}Q", h.to_bytes(8 * count, "little"))


def _lane_bytes(joined: bytes, length: int, count: int, start: int, width: int) -> int:
    """Bytes start..start+width of every key (keys of `length` bytes end to end in `joined`),
    little-endian, one key per 64-bit lane."""
    lanes = bytearray(8 * count)
    for b in range(width):
        lanes[b::8] = joined[start + b :: length]
    return int.from_bytes(lanes, "little")


def partition_for_key(key: bytes, num_partitions: int) -> int:
    """Kafka's `Utils.toPositive(murmur2(key)) % numPartitions`."""
    return (_murmur2(key) & 0x7FFFFFFF) % num_partitions


class DefaultPartitioner:
    """murmur2 for keys; for keyless records a sticky partition per topic (KIP-480)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._sticky: dict[str, int] = {}
        self._hashes: dict[bytes, int] = {}  # the last prehash's keys

    def prehash(self, keys: Iterable[bytes]) -> None:
        """Hash a burst of keys at once for the partition() calls that follow (only bytes
        keys; the previous burst's are forgotten). Nothing to do where murmur2 is compiled:
        one key at a time is then cheaper than any bookkeeping."""
        if not COMPILED:
            self._hashes = murmur2_many(key for key in keys if type(key) is bytes)  # a bytearray is no dict key

    def partition(self, topic: str, key: bytes | None, partitions: Sequence[int], available: Sequence[int]) -> int:
        """`partitions`: all of the topic's partitions; `available`: those with a leader."""
        if key is not None:
            hashes = self._hashes
            h = hashes.get(key) if hashes and type(key) is bytes else None
            if h is None:
                h = _murmur2(key)
            return (h & 0x7FFFFFFF) % len(partitions)
        sticky = self._sticky.get(topic)
        if sticky is None:
            sticky = self._choose(topic, available or partitions, None)
        return sticky

    def on_batch_closed(self, topic: str, partition: int, available: Sequence[int]) -> None:
        """The sticky partition's batch is full or sent: move on to another partition."""
        if self._sticky.get(topic) == partition:
            self._choose(topic, available, partition)

    def _choose(self, topic: str, candidates: Sequence[int], previous: int | None) -> int:
        others = [p for p in candidates if p != previous] or list(candidates)
        choice = others[self._rng.randrange(len(others))]
        self._sticky[topic] = choice
        return choice
