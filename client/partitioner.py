"""Choosing a partition for a record: murmur2 of the key as Kafka does, sticky without a key.

A keyed record goes to `(murmur2(key) & 0x7fffffff) % num_partitions`, bit-exact with
Kafka's Java client, so a key lands on the same partition whichever client wrote it.
Keyless records stick to one partition until its batch is closed (KIP-480), which makes
full batches instead of many tiny ones. This module must never look at the network or the
clock: the accumulator tells it when a batch closes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

_M = 0x5BD1E995
_SEED = 0x9747B28C
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's 32-bit MurmurHash2 (seed 0x9747b28c), as a signed 32-bit int like Java's."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    end = length & ~3
    for i in range(0, end, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    rest = length & 3
    if rest == 3:
        h ^= data[end + 2] << 16
    if rest >= 2:
        h ^= data[end + 1] << 8
    if rest >= 1:
        h ^= data[end]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for_key(key: bytes, num_partitions: int) -> int:
    """Kafka's `Utils.toPositive(murmur2(key)) % numPartitions`."""
    return (murmur2(key) & 0x7FFFFFFF) % num_partitions


class DefaultPartitioner:
    """murmur2 for keys; for keyless records a sticky partition per topic (KIP-480)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._sticky: dict[str, int] = {}

    def partition(self, topic: str, key: bytes | None, partitions: Sequence[int],
                  available: Sequence[int]) -> int:
        """`partitions`: all of the topic's partitions; `available`: those with a leader."""
        if key is not None:
            return partition_for_key(key, len(partitions))
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
