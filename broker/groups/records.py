"""What the group coordinator writes to `__consumer_offsets`: keys and values in Kafka's record format.

Two kinds of record share the compacted topic, exactly as Kafka writes them, so Kafka's
tools (and a Kafka broker) could read our offsets partitions. Every key and every value
is an int16 version followed by a versioned struct from `client.protocol.messages.DATA`:

    offset commit   key   version 1 (0 also read)  OffsetCommitKey(group, topic, partition)
                    value version 3 (0-4 read)     OffsetCommitValue(offset, leader_epoch,
                                                   metadata, commit_timestamp)
    group metadata  key   version 2                GroupMetadataKey(group)
                    value version 3 (0-4 read)     GroupMetadataValue(protocol_type,
                                                   generation, protocol, leader,
                                                   current_state_timestamp, members)

The key's version tells the two kinds apart. A value of None is a tombstone: the offset
or the group is deleted, and compaction may drop the key altogether later. Equal keys
are equal bytes (one encoding per key), which is what key compaction needs. A record
this build cannot read (an unknown version, or msgpack from an older pybroker) raises
`RecordFormatError`: refuse to guess. This module only encodes and decodes; it never
decides what to write.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from client.protocol.messages import DATA, DecodeError, Message

OFFSET_KEY_VERSIONS = (0, 1)
OFFSET_KEY = 1  # the key version Kafka writes for an offset commit
GROUP_KEY = 2
OFFSET_VALUE_VERSION = 3  # Kafka 2.1+ without an expire timestamp
GROUP_VALUE_VERSION = 3  # Kafka 2.3+: with group_instance_id

_OffsetCommitKey = DATA["OffsetCommitKey"]
_OffsetCommitValue = DATA["OffsetCommitValue"]
_GroupMetadataKey = DATA["GroupMetadataKey"]
_GroupMetadataValue = DATA["GroupMetadataValue"]
_Member = _GroupMetadataValue._nested["MemberMetadata"]
_VERSION = struct.Struct(">h")


class RecordFormatError(ValueError):
    """A `__consumer_offsets` record this build cannot read: refuse to guess."""


@dataclass(frozen=True)
class Record:
    """One record of `__consumer_offsets`, as its key and value bytes."""

    key: bytes
    value: bytes | None


@dataclass(frozen=True)
class OffsetAndMetadata:
    """A committed position: the next offset to read, as Kafka stores it."""

    offset: int
    leader_epoch: int = -1
    metadata: str = ""
    commit_timestamp_ms: int = -1


@dataclass(frozen=True)
class OffsetKey:
    group_id: str
    topic: str
    partition: int


@dataclass(frozen=True)
class GroupKey:
    group_id: str


@dataclass(frozen=True)
class MemberRecord:
    """A member as persisted: only the chosen protocol's subscription is kept, as in Kafka."""

    member_id: str
    group_instance_id: str | None
    client_id: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    subscription: bytes
    assignment: bytes
    client_host: str = ""


@dataclass(frozen=True)
class GroupMetadataValue:
    protocol_type: str | None
    generation_id: int
    protocol_name: str | None
    leader_id: str | None
    state_timestamp_ms: int
    members: tuple[MemberRecord, ...]


def _versioned(version: int, struct_obj: Message) -> bytes:
    return _VERSION.pack(version) + struct_obj.encode(version)


def _read(cls: type[Message], data: bytes, what: str, allowed: range | tuple[int, ...]) -> tuple[int, Any]:
    if len(data) < 2:
        raise RecordFormatError(f"{what} is {len(data)} bytes: too short for a version")
    (version,) = _VERSION.unpack_from(data)
    if version not in allowed:
        raise RecordFormatError(
            f"{what} has version {version}, which this build cannot read "
            f"(a record from an older pybroker, or a newer Kafka?)"
        )
    try:
        return version, cls.decode(data, version, pos=2)
    except DecodeError as exc:
        raise RecordFormatError(f"{what} version {version} does not decode: {exc}") from None


def offset_record(group_id: str, topic: str, partition: int, value: OffsetAndMetadata | None) -> Record:
    key = _versioned(OFFSET_KEY, _OffsetCommitKey(group=group_id, topic=topic, partition=partition))
    if value is None:
        return Record(key, None)
    return Record(
        key,
        _versioned(
            OFFSET_VALUE_VERSION,
            _OffsetCommitValue(
                offset=value.offset,
                leader_epoch=value.leader_epoch,
                metadata=value.metadata,
                commit_timestamp=value.commit_timestamp_ms,
            ),
        ),
    )


def group_record(group_id: str, value: GroupMetadataValue | None) -> Record:
    key = _versioned(GROUP_KEY, _GroupMetadataKey(group=group_id))
    if value is None:
        return Record(key, None)
    members = [
        _Member(
            member_id=m.member_id,
            group_instance_id=m.group_instance_id,
            client_id=m.client_id,
            client_host=m.client_host,
            rebalance_timeout=m.rebalance_timeout_ms,
            session_timeout=m.session_timeout_ms,
            subscription=m.subscription,
            assignment=m.assignment,
        )
        for m in value.members
    ]
    return Record(
        key,
        _versioned(
            GROUP_VALUE_VERSION,
            _GroupMetadataValue(
                protocol_type=value.protocol_type or "",
                generation=value.generation_id,
                protocol=value.protocol_name,
                leader=value.leader_id,
                current_state_timestamp=value.state_timestamp_ms,
                members=members,
            ),
        ),
    )


def decode_key(key: bytes) -> OffsetKey | GroupKey:
    if len(key) >= 2 and _VERSION.unpack_from(key)[0] == GROUP_KEY:
        _, group = _read(_GroupMetadataKey, key, "group metadata key", (GROUP_KEY,))
        return GroupKey(group.group)
    _, k = _read(_OffsetCommitKey, key, "__consumer_offsets key", OFFSET_KEY_VERSIONS)
    return OffsetKey(k.group, k.topic, k.partition)


def decode_offset_value(value: bytes) -> OffsetAndMetadata:
    _, v = _read(_OffsetCommitValue, value, "offset commit value", range(5))
    return OffsetAndMetadata(v.offset, v.leader_epoch, v.metadata, v.commit_timestamp)


def decode_group_value(value: bytes) -> GroupMetadataValue:
    _, v = _read(_GroupMetadataValue, value, "group metadata value", range(5))
    members = tuple(
        MemberRecord(
            m.member_id,
            m.group_instance_id,
            m.client_id,
            m.session_timeout,
            m.rebalance_timeout if m.rebalance_timeout >= 0 else m.session_timeout,
            bytes(m.subscription),
            bytes(m.assignment),
            m.client_host,
        )
        for m in v.members
    )
    return GroupMetadataValue(
        v.protocol_type or None, v.generation, v.protocol, v.leader, v.current_state_timestamp, members
    )
