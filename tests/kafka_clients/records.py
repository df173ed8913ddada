"""The records the Kafka-client tests write and compare, as one value type every driver speaks.

A driver turns a client's own record object into a `Record`, so a test compares what
kcat, librdkafka, kafka-python, aiokafka and pybroker's client each saw with one `==`.
Records also cross a process boundary (kcat, and clients that run in another Python:
Debian's python3-confluent-kafka, kafka-python 2.x) as JSON, bytes in hex. This module
must never import a Kafka client: drivers of every version import it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class Record:
    """One Kafka record as a client sees it. `timestamp` is CreateTime in ms (None when
    the writer lets its client stamp it); `offset` is None until a broker assigned one."""

    partition: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    timestamp: int | None = None
    offset: int | None = None

    def at(self, offset: int, timestamp: int | None = None) -> Record:
        return replace(self, offset=offset, timestamp=self.timestamp if timestamp is None else timestamp)

    def to_json(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "key": _hex(self.key),
            "value": _hex(self.value),
            "headers": [[k, _hex(v)] for k, v in self.headers],
            "timestamp": self.timestamp,
            "offset": self.offset,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Record:
        return cls(
            obj["partition"],
            _unhex(obj["key"]),
            _unhex(obj["value"]),
            tuple((k, _unhex(v)) for k, v in obj["headers"]),
            obj["timestamp"],
            obj["offset"],
        )


def _hex(b: bytes | None) -> str | None:
    return None if b is None else b.hex()


def _unhex(s: str | None) -> bytes | None:
    return None if s is None else bytes.fromhex(s)


def headers_of(raw: Any) -> Headers:
    """A client's headers (None, a list or a tuple of pairs) as a tuple of (str, bytes)."""
    return tuple((k if isinstance(k, str) else k.decode(), v) for k, v in (raw or ()))


HEADER_SETS: list[Headers] = [
    (("trace", b"t-1"), ("trace", b"t-2"), ("empty", b"")),  # a repeated key keeps both, in order
    (("caf\u00e9", "\u00e7a va".encode()),),  # UTF-8 names and values
    (),  # no headers at all
]


def sample(
    partitions: int = 3, per_partition: int = 4, *, client_timestamps: bool = False, nulls: bool = True, repeat: int = 1
) -> list[Record]:
    """Keyed records with headers spread over `partitions`, in the order to write them.
    Each carries its own CreateTime an hour ago (distinct, so a reader that swaps two
    shows), unless `client_timestamps` (writers that cannot set one, like kcat -P).
    `nulls` adds a null key and a null value (a tombstone) where the writer can send them.
    `repeat` repeats each non-empty value's text, so that compressing a batch pays (some
    clients send a batch uncompressed when compression would not shrink it).
    Every byte string is UTF-8 so that kcat's JSON output can carry it."""
    base = int(time.time() * 1000) - 3_600_000
    out = []
    for i in range(per_partition):
        for p in range(partitions):
            n = i * partitions + p
            key: bytes | None = f"key-{p}-{i}".encode()
            value: bytes | None = f"value {n} \u00e9t\u00e9 ".encode() * repeat if i != 1 else b""
            if nulls and i == 2 and p == 0:
                key = None
            if nulls and i == 3 and p == 1:
                value = None
            out.append(
                Record(p, key, value, HEADER_SETS[p % len(HEADER_SETS)], None if client_timestamps else base + 7 * n)
            )
    return out


def by_partition(records: list[Record]) -> dict[int, list[Record]]:
    """Records grouped per partition, each list in the order given (the order that matters)."""
    out: dict[int, list[Record]] = {}
    for r in records:
        out.setdefault(r.partition, []).append(r)
    return out
