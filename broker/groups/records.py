"""What the group coordinator writes to `__consumer_offsets`: keys, values, their msgpack form.

Two kinds of record share the compacted topic, told apart by the first element of the
key (the numbering follows Kafka, whose key versions 0/1 are offsets and 2 is a group):

    offset commit   key   [1, group_id, topic, partition]
                    value [0, offset, leader_epoch, metadata, commit_timestamp_ms]
    group metadata  key   [2, group_id]
                    value [0, protocol_type, generation_id, protocol_name, leader_id,
                           state_timestamp_ms, members]
                    member [member_id, group_instance_id, client_id, session_timeout_ms,
                            rebalance_timeout_ms, subscription, assignment]

A value of None is a tombstone: the offset or the group is deleted, and compaction may
drop the key altogether later. The first element of every value is its version, so a
later format can be read beside this one. Keys are whole msgpack arrays, so equal keys
are equal bytes, which is what key compaction needs. This module only encodes and
decodes; it never decides what to write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

OFFSET_KEY = 1
GROUP_KEY = 2
VALUE_VERSION = 0


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


@dataclass(frozen=True)
class GroupMetadataValue:
    protocol_type: str | None
    generation_id: int
    protocol_name: str | None
    leader_id: str | None
    state_timestamp_ms: int
    members: tuple[MemberRecord, ...]


def _pack(obj: object) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def _unpack(data: bytes, what: str) -> Any:
    try:
        return msgpack.unpackb(data, raw=False, use_list=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as e:
        raise RecordFormatError(f"{what} is not msgpack: {e}") from None


def offset_record(group_id: str, topic: str, partition: int, value: OffsetAndMetadata | None) -> Record:
    key = _pack([OFFSET_KEY, group_id, topic, partition])
    if value is None:
        return Record(key, None)
    return Record(key, _pack([VALUE_VERSION, value.offset, value.leader_epoch, value.metadata,
                              value.commit_timestamp_ms]))


def group_record(group_id: str, value: GroupMetadataValue | None) -> Record:
    key = _pack([GROUP_KEY, group_id])
    if value is None:
        return Record(key, None)
    members = [[m.member_id, m.group_instance_id, m.client_id, m.session_timeout_ms, m.rebalance_timeout_ms,
                m.subscription, m.assignment] for m in value.members]
    return Record(key, _pack([VALUE_VERSION, value.protocol_type, value.generation_id, value.protocol_name,
                              value.leader_id, value.state_timestamp_ms, members]))


def decode_key(key: bytes) -> OffsetKey | GroupKey:
    body = _unpack(key, "record key")
    try:
        if body[0] == OFFSET_KEY:
            _, group_id, topic, partition = body
            return OffsetKey(str(group_id), str(topic), int(partition))
        if body[0] == GROUP_KEY:
            _, group_id = body
            return GroupKey(str(group_id))
    except (TypeError, ValueError, IndexError, KeyError):
        pass
    raise RecordFormatError(f"unknown __consumer_offsets key {body!r}")


def _check_version(body: Any, what: str) -> list[Any]:
    if not isinstance(body, list) or not body or body[0] != VALUE_VERSION:
        raise RecordFormatError(f"{what} value has an unknown version or shape: {body!r}")
    return body


def decode_offset_value(value: bytes) -> OffsetAndMetadata:
    body = _check_version(_unpack(value, "offset value"), "offset")
    try:
        _, offset, leader_epoch, metadata, ts = body
        return OffsetAndMetadata(int(offset), int(leader_epoch), str(metadata), int(ts))
    except (TypeError, ValueError) as e:
        raise RecordFormatError(f"malformed offset value {body!r}: {e}") from None


def decode_group_value(value: bytes) -> GroupMetadataValue:
    body = _check_version(_unpack(value, "group value"), "group metadata")
    try:
        _, protocol_type, generation, protocol_name, leader, ts, members = body
        return GroupMetadataValue(protocol_type, int(generation), protocol_name, leader, int(ts), tuple(
            MemberRecord(mid, iid, cid, int(st), int(rt), bytes(sub), bytes(asg))
            for mid, iid, cid, st, rt, sub, asg in members))
    except (TypeError, ValueError) as e:
        raise RecordFormatError(f"malformed group metadata value: {e}") from None
