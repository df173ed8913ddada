"""The consumer protocol's bytes: what members put in JoinGroup and what the leader hands out.

The group coordinator treats both as opaque bytes; consumers (and tools that describe
groups) read them. They use Kafka's ConsumerProtocol layout (an int16 version, then
`messages.DATA["ConsumerProtocolSubscription"]` or `["ConsumerProtocolAssignment"]`),
so one group can mix our consumers with librdkafka, kafka-python, aiokafka and Java
members, each able to lead.

We write version 0 of both (topics and user data; partitions and user data): every
client reads it, and an eager member has no owned partitions to report. We read any
version: fields are only ever appended, so a version newer than we know is read as the
newest we know and the rest skipped, as Kafka's own clients do. This module only
encodes and decodes; it must never choose an assignment.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from client.protocol.messages import DATA, DecodeError
from client.structs import TopicPartition

PROTOCOL_TYPE = "consumer"
WRITE_VERSION = 0

_Subscription = DATA["ConsumerProtocolSubscription"]
_Assignment = DATA["ConsumerProtocolAssignment"]
_VERSION = struct.Struct(">h")


class GroupProtocolError(ValueError):
    """Subscription or assignment bytes this client cannot read."""


def _decode(cls: type, data: bytes, what: str) -> object:
    if len(data) < 2:
        raise GroupProtocolError(f"{what} is {len(data)} bytes: too short for a version")
    (version,) = _VERSION.unpack_from(data)
    if version < 0:
        raise GroupProtocolError(f"{what} has a negative version {version}")
    known = min(version, cls._versions.high)  # type: ignore[attr-defined]  # a generated message class
    try:
        message, _ = cls.decode_prefix(data, known, 2)  # type: ignore[attr-defined]  # a generated message class
    except DecodeError as exc:
        raise GroupProtocolError(f"{what} version {version} does not decode: {exc}") from None
    return message


def encode_subscription(topics: Iterable[str], user_data: bytes | None = None) -> bytes:
    return _VERSION.pack(WRITE_VERSION) + _Subscription(topics=sorted(topics), user_data=user_data).encode(
        WRITE_VERSION
    )


def decode_subscription(data: bytes) -> list[str]:
    return list(_decode(_Subscription, data, "subscription").topics)  # type: ignore[attr-defined]  # a generated message class


def encode_assignment(partitions: Iterable[tuple[str, int]], user_data: bytes | None = None) -> bytes:
    by_topic: dict[str, list[int]] = {}
    for topic, partition in partitions:
        by_topic.setdefault(topic, []).append(partition)
    return _VERSION.pack(WRITE_VERSION) + _Assignment(
        assigned_partitions=[
            _Assignment._nested["TopicPartition"](topic=t, partitions=sorted(ps)) for t, ps in sorted(by_topic.items())
        ],
        user_data=user_data,
    ).encode(WRITE_VERSION)


def decode_assignment(data: bytes) -> list[TopicPartition]:
    """An empty byte string (a member the leader gave nothing) is an empty assignment."""
    if not data:
        return []
    assignment = _decode(_Assignment, bytes(data), "assignment")
    return [
        TopicPartition(tp.topic, p)
        for tp in assignment.assigned_partitions  # type: ignore[attr-defined]  # a generated message class
        for p in tp.partitions
    ]
