"""The consumer protocol's bytes: what members put in JoinGroup and what the leader hands out.

The group coordinator treats both as opaque bytes; only consumers (and tools that
describe groups) read them. msgpack arrays whose first element is a version:

    subscription  [0, [topic, ...], user_data]
    assignment    [0, [[topic, [partition, ...]], ...], user_data]

This module only encodes and decodes; it must never choose an assignment.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgpack

from client.structs import TopicPartition

PROTOCOL_TYPE = "consumer"
VERSION = 0


class GroupProtocolError(ValueError):
    """Subscription or assignment bytes this client cannot read (another client's format?)."""


def _unpack(data: bytes, what: str) -> list:
    try:
        body = msgpack.unpackb(data, raw=False, use_list=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise GroupProtocolError(f"{what} is not msgpack: {exc}") from None
    if not isinstance(body, list) or len(body) < 2 or body[0] != VERSION:
        raise GroupProtocolError(f"{what} has an unknown version or shape: {body!r}")
    return body


def encode_subscription(topics: Iterable[str], user_data: bytes = b"") -> bytes:
    return msgpack.packb([VERSION, sorted(topics), user_data], use_bin_type=True)


def decode_subscription(data: bytes) -> list[str]:
    topics = _unpack(data, "subscription")[1]
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise GroupProtocolError(f"subscription topics must be strings, not {topics!r}")
    return topics


def encode_assignment(partitions: Iterable[tuple[str, int]], user_data: bytes = b"") -> bytes:
    by_topic: dict[str, list[int]] = {}
    for topic, partition in partitions:
        by_topic.setdefault(topic, []).append(partition)
    return msgpack.packb([VERSION, [[t, sorted(ps)] for t, ps in sorted(by_topic.items())], user_data],
                         use_bin_type=True)


def decode_assignment(data: bytes) -> list[TopicPartition]:
    """An empty byte string (a member the leader gave nothing) is an empty assignment."""
    if not data:
        return []
    try:
        return [TopicPartition(str(t), int(p)) for t, ps in _unpack(data, "assignment")[1] for p in ps]
    except (TypeError, ValueError) as exc:
        raise GroupProtocolError(f"malformed assignment: {exc}") from None
