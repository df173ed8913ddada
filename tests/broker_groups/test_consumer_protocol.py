"""The subscription and assignment bytes are Kafka's ConsumerProtocol layout: what we write is
read by aiokafka's and kafka-python's own (independent) implementations, and what they and
newer clients write is read by us, including versions newer than we know."""

from __future__ import annotations

import struct

import pytest
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.protocol.consumer.metadata import ConsumerProtocolAssignment, ConsumerProtocolSubscription

from client.consumer.group_protocol import (
    GroupProtocolError,
    decode_assignment,
    decode_subscription,
    encode_assignment,
    encode_subscription,
)
from client.structs import TopicPartition

topic_names = st.text("abcxyz._-", min_size=1, max_size=8)


@settings(max_examples=100, deadline=None)
@given(st.sets(topic_names, max_size=5))
def test_our_subscription_is_read_by_aiokafka_and_kafka_python(topics: set[str]) -> None:
    data = encode_subscription(topics)
    assert ConsumerProtocolMemberMetadata.decode(data).subscription == sorted(topics)
    assert ConsumerProtocolSubscription.decode(data).topics == sorted(topics)
    assert decode_subscription(data) == sorted(topics)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(topic_names, st.sets(st.integers(0, 1000), min_size=1, max_size=6), max_size=4))
def test_our_assignment_is_read_by_aiokafka_and_kafka_python(plan: dict[str, set[int]]) -> None:
    partitions = [(t, p) for t, ps in plan.items() for p in ps]
    data = encode_assignment(partitions)
    expected = sorted(TopicPartition(t, p) for t, p in partitions)
    theirs = ConsumerProtocolMemberAssignment.decode(data)
    assert sorted(TopicPartition(t, p) for t, ps in theirs.assignment for p in ps) == expected
    assert sorted(ConsumerProtocolAssignment.decode(data).partitions()) == expected
    assert sorted(decode_assignment(data)) == expected


def test_we_read_what_they_write() -> None:
    assert decode_subscription(ConsumerProtocolMemberMetadata(0, ["x", "y"], b"").encode()) == ["x", "y"]
    assert decode_assignment(ConsumerProtocolMemberAssignment(0, [("t", [0, 3])], b"ud").encode()) == [
        TopicPartition("t", 0),
        TopicPartition("t", 3),
    ]


def test_newer_versions_are_read_as_the_newest_we_know() -> None:
    """A v3 subscription (owned partitions, generation, rack, as the Java client sends) and a
    made-up v9 one with fields appended after the v3 ones."""
    v3 = ConsumerProtocolSubscription(
        version=3,
        topics=["a", "b"],
        user_data=None,
        owned_partitions=[ConsumerProtocolSubscription.TopicPartition(topic="a", partitions=[1])],
        generation_id=5,
        rack_id="r1",
    )
    data = v3.encode(version=3)
    assert decode_subscription(data) == ["a", "b"]
    assert decode_subscription(struct.pack(">h", 9) + data[2:] + b"future fields") == ["a", "b"]
    v1_assignment = struct.pack(">h", 1) + encode_assignment([("t", 2)])[2:]
    assert decode_assignment(v1_assignment) == [TopicPartition("t", 2)]


def test_an_empty_assignment_is_no_partitions() -> None:
    assert decode_assignment(b"") == []
    assert decode_assignment(encode_assignment([])) == []


@pytest.mark.parametrize(
    "data", [b"\x00", struct.pack(">h", -1) + bytes(8), struct.pack(">hi", 0, 5) + b"ab", b"\x92\x00\x91\xa1t"]
)  # the last: msgpack, an older pybroker's layout
def test_unreadable_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(GroupProtocolError):
        decode_subscription(data)
