"""`__consumer_offsets` records are Kafka's bytes: keys and values laid out by hand here from
Kafka's OffsetCommitKey/Value and GroupMetadataKey/Value definitions, so the codec is checked
against the layout, not against itself."""

from __future__ import annotations

import struct

import msgpack
import pytest

from broker.groups.records import (
    GroupKey,
    GroupMetadataValue,
    MemberRecord,
    OffsetAndMetadata,
    OffsetKey,
    RecordFormatError,
    decode_group_value,
    decode_key,
    decode_offset_value,
    group_record,
    offset_record,
)


def s(text: str | None) -> bytes:
    """A classic (non-flexible) Kafka string: int16 length, -1 for null."""
    if text is None:
        return struct.pack(">h", -1)
    data = text.encode()
    return struct.pack(">h", len(data)) + data


def b(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data


def test_offset_commit_record_is_kafkas_key_v1_and_value_v3() -> None:
    record = offset_record("grp", "topic", 7, OffsetAndMetadata(42, 3, "meta", 1_700_000_000_000))
    assert record.key == struct.pack(">h", 1) + s("grp") + s("topic") + struct.pack(">i", 7)
    assert record.value == (
        struct.pack(">h", 3)
        + struct.pack(">q", 42)
        + struct.pack(">i", 3)
        + s("meta")
        + struct.pack(">q", 1_700_000_000_000)
    )
    assert decode_key(record.key) == OffsetKey("grp", "topic", 7)
    assert decode_offset_value(record.value) == OffsetAndMetadata(42, 3, "meta", 1_700_000_000_000)
    assert offset_record("grp", "topic", 7, None).value is None  # tombstone, same key
    assert offset_record("grp", "topic", 7, None).key == record.key


def test_older_offset_versions_are_read() -> None:
    """Key v0 and value v1 (with the expire timestamp Kafka wrote before 2.1)."""
    key = struct.pack(">h", 0) + s("g") + s("t") + struct.pack(">i", 0)
    value = struct.pack(">hq", 1, 9) + s("") + struct.pack(">qq", 5, 99)
    assert decode_key(key) == OffsetKey("g", "t", 0)
    assert decode_offset_value(value) == OffsetAndMetadata(9, -1, "", 5)


def test_group_metadata_record_is_kafkas_key_v2_and_value_v3() -> None:
    member = MemberRecord("m-1", "static-1", "cid", 10_000, 60_000, b"SUB", b"ASG", "/127.0.0.1")
    value = GroupMetadataValue("consumer", 4, "range", "m-1", 123, (member,))
    record = group_record("grp", value)
    assert record.key == struct.pack(">h", 2) + s("grp")
    assert record.value == (
        struct.pack(">h", 3)
        + s("consumer")
        + struct.pack(">i", 4)
        + s("range")
        + s("m-1")
        + struct.pack(">q", 123)
        + struct.pack(">i", 1)
        + s("m-1")
        + s("static-1")
        + s("cid")
        + s("/127.0.0.1")
        + struct.pack(">ii", 60_000, 10_000)
        + b(b"SUB")
        + b(b"ASG")
    )
    assert decode_key(record.key) == GroupKey("grp")
    assert decode_group_value(record.value) == value


def test_an_empty_group_has_no_protocol_and_an_empty_protocol_type() -> None:
    record = group_record("grp", GroupMetadataValue(None, 5, None, None, 9, ()))
    assert record.value == (
        struct.pack(">h", 3)
        + s("")
        + struct.pack(">i", 5)
        + s(None)
        + s(None)
        + struct.pack(">q", 9)
        + struct.pack(">i", 0)
    )
    assert decode_group_value(record.value) == GroupMetadataValue(None, 5, None, None, 9, ())


def test_group_value_v0_takes_the_session_timeout_as_rebalance_timeout() -> None:
    value = (
        struct.pack(">h", 0)
        + s("consumer")
        + struct.pack(">i", 1)
        + s("range")
        + s("m")
        + struct.pack(">i", 1)
        + s("m")
        + s("c")
        + s("h")
        + struct.pack(">i", 7000)
        + b(b"")
        + b(b"")
    )
    decoded = decode_group_value(value)
    assert decoded.state_timestamp_ms == -1
    assert decoded.members == (MemberRecord("m", None, "c", 7000, 7000, b"", b"", "h"),)


@pytest.mark.parametrize(
    "data",
    [
        msgpack.packb([1, "g", "t", 0]),  # an older pybroker's msgpack key
        struct.pack(">h", 3) + s("g"),  # a key version nobody defines
        struct.pack(">h", 1) + s("g"),  # truncated
        b"\x00",
    ],
)
def test_unreadable_keys_are_refused(data: bytes) -> None:
    with pytest.raises(RecordFormatError):
        decode_key(data)


@pytest.mark.parametrize(
    "data",
    [
        msgpack.packb([0, 1, -1, "", 5]),
        struct.pack(">h", 9) + bytes(30),
        struct.pack(">hq", 3, 1),
        struct.pack(">hq", 0, 1) + s("") + struct.pack(">q", 1) + b"extra",
    ],
)
def test_unreadable_offset_values_are_refused(data: bytes) -> None:
    with pytest.raises(RecordFormatError):
        decode_offset_value(data)
