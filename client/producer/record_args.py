"""Checks of the arguments of one producer send(), before anything is queued.

Keys, values and header values are bytes (or None) once the serializers have run, as in
Kafka's producer without a serializer; anything else (an int, a str) is refused here with
a TypeError naming the argument, instead of failing deep in the encoder or coming back
from a consumer as a different type. This module must never do I/O or serialize.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from client.producer.accumulator import RECORD_OVERHEAD

_BYTES = (bytes, bytearray)


class PreparedRecord(NamedTuple):
    """One record's checked arguments and its approximate encoded size."""

    topic: str
    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, bytes | None]] | None
    partition: int | None
    timestamp_ms: int | None
    size: int


def check_record(topic: Any, value: Any, key: Any, headers: Any, partition: Any, timestamp_ms: Any) -> PreparedRecord:
    """The record as a PreparedRecord; TypeError/ValueError naming the first bad argument."""
    return PreparedRecord._make(check_fields(topic, value, key, headers, partition, timestamp_ms))


def check_fields(topic: Any, value: Any, key: Any, headers: Any, partition: Any, timestamp_ms: Any) -> tuple:
    """check_record's fields as a plain tuple: cheaper to build than the NamedTuple, and the
    garbage collector stops tracking it, which matters to the sync Producer's queue."""
    if (
        type(topic) is str
        and type(value) is bytes
        and headers is None
        and partition is None
        and timestamp_ms is None
        and topic
    ):  # the usual record, answered without the checks below
        if key is None:
            return topic, value, None, None, None, None, RECORD_OVERHEAD + len(value)
        if type(key) is bytes:
            return topic, value, key, None, None, None, RECORD_OVERHEAD + len(key) + len(value)
    if not isinstance(topic, str):
        raise TypeError(f"topic must be a str, not {type(topic).__name__}")
    if not topic:
        raise ValueError("topic must not be empty")
    _check_bytes("value", value)
    _check_bytes("key", key)
    size = RECORD_OVERHEAD + (len(key) if key is not None else 0) + (len(value) if value is not None else 0)
    if headers is not None:
        if not isinstance(headers, (list, tuple)):
            raise TypeError(f"headers must be a list of (str, bytes) pairs, not {type(headers).__name__}")
        for header in headers:
            if not (isinstance(header, tuple) and len(header) == 2 and isinstance(header[0], str)):
                raise TypeError(f"each header must be a (str, bytes or None) pair, not {header!r}")
            _check_bytes(f"header {header[0]!r} value", header[1])
            size += len(header[0]) + len(header[1] or b"")
    _check_int("partition", partition)
    if partition is not None and partition < 0:
        raise ValueError(f"partition must be >= 0, not {partition}")
    _check_int("timestamp_ms", timestamp_ms)
    return topic, value, key, headers, partition, timestamp_ms, size


def _check_bytes(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, _BYTES):
        raise TypeError(
            f"{name} must be bytes or None, not {type(value).__name__} (encode it, e.g. "
            f"s.encode(), or give the producer a key_serializer/value_serializer)"
        )


def _check_int(name: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{name} must be an int or None, not {type(value).__name__}")
