"""The group APIs on Kafka's wire, against a real node with a raw socket client: the offsets
topic is created on first use (compacted, 10 partitions), unknown members and generations
get their error codes, an empty group id INVALID_GROUP_ID, and a body that does not decode
closes only its own connection."""

from __future__ import annotations

import struct
import time
from typing import Any

import pytest

from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader, encode_request
from tests.broker_server.wire import WireClient, create_topic


@pytest.fixture
def wire(shared_group_node):
    with WireClient(shared_group_node.broker_port) as client:
        yield client


def find(wire: WireClient, group: str) -> Any:
    for _ in range(100):
        answer = wire.call(ApiKey.FIND_COORDINATOR, m.FindCoordinatorRequest(key=group))
        if answer.error_code == 0:
            return answer
        assert answer.error_code in (ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
        time.sleep(0.1)
    raise AssertionError(f"no coordinator: {answer}")


def join(wire: WireClient, group: str, member_id: str = "", session_timeout_ms: int = 10000, version: int = 3) -> Any:
    request = m.JoinGroupRequest(
        group_id=group,
        session_timeout_ms=session_timeout_ms,
        rebalance_timeout_ms=10000,
        member_id=member_id,
        protocol_type="consumer",
        protocols=[m.JoinGroupRequest.JoinGroupRequestProtocol(name="range", metadata=b"m")],
    )
    for _ in range(100):
        answer = wire.call(ApiKey.JOIN_GROUP, request, version)
        if answer.error_code != ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
            return answer
        time.sleep(0.1)
    raise AssertionError("the offsets partition never finished loading")


def test_the_offsets_topic_is_created_compacted_on_first_use(wire, shared_group_node) -> None:
    answer = find(wire, "first-use")
    assert (answer.node_id, answer.port) == (1, shared_group_node.broker_port)
    meta = wire.call(
        ApiKey.METADATA, m.MetadataRequest(topics=[m.MetadataRequest.MetadataRequestTopic(name="__consumer_offsets")])
    )
    assert len(meta.topics[0].partitions) == 10
    assert len(list((shared_group_node.data_dir / "logs").glob("__consumer_offsets-*"))) == 10


def test_a_whole_round_and_the_errors_of_strangers(wire) -> None:
    assert create_topic(wire, "x", 2).error_code == 0
    find(wire, "round")
    first = join(wire, "round", version=7)
    assert first.error_code == ErrorCode.MEMBER_ID_REQUIRED and first.member_id  # KIP-394
    joined = join(wire, "round", first.member_id, version=7)
    assert joined.error_code == 0 and joined.leader == joined.member_id == first.member_id
    assert joined.protocol_type == "consumer" and joined.protocol_name == "range" and len(joined.members) == 1
    member, generation = joined.member_id, joined.generation_id
    synced = wire.call(
        ApiKey.SYNC_GROUP,
        m.SyncGroupRequest(
            group_id="round",
            generation_id=generation,
            member_id=member,
            protocol_type="consumer",
            protocol_name="range",
            assignments=[m.SyncGroupRequest.SyncGroupRequestAssignment(member_id=member, assignment=b"mine")],
        ),
    )
    assert synced.error_code == 0 and bytes(synced.assignment) == b"mine"

    def beat(**change: Any) -> int:
        fields = {"group_id": "round", "generation_id": generation, "member_id": member, **change}
        return wire.call(ApiKey.HEARTBEAT, m.HeartbeatRequest(**fields)).error_code

    assert beat() == 0
    assert beat(member_id="stranger") == ErrorCode.UNKNOWN_MEMBER_ID
    assert beat(generation_id=99) == ErrorCode.ILLEGAL_GENERATION

    def commit(generation_id: int, offset: int, topic: str = "x") -> list[tuple[str, int, int]]:
        answer = wire.call(
            ApiKey.OFFSET_COMMIT,
            m.OffsetCommitRequest(
                group_id="round",
                generation_id_or_member_epoch=generation_id,
                member_id=member,
                topics=[
                    m.OffsetCommitRequest.OffsetCommitRequestTopic(
                        name=topic,
                        partitions=[
                            m.OffsetCommitRequest.OffsetCommitRequestPartition(
                                partition_index=0, committed_offset=offset
                            )
                        ],
                    )
                ],
            ),
        )
        return [(t.name, p.partition_index, p.error_code) for t in answer.topics for p in t.partitions]

    assert commit(generation, 9) == [("x", 0, 0)]
    assert commit(0, 10) == [("x", 0, ErrorCode.ILLEGAL_GENERATION)]
    assert commit(generation, 10, topic="nowhere") == [("nowhere", 0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)]
    fetched = wire.call(
        ApiKey.OFFSET_FETCH,
        m.OffsetFetchRequest(
            group_id="round", topics=[m.OffsetFetchRequest.OffsetFetchRequestTopic(name="x", partition_indexes=[0, 1])]
        ),
    )
    assert fetched.error_code == 0
    assert [(p.partition_index, p.committed_offset) for p in fetched.topics[0].partitions] == [(0, 9), (1, -1)]
    groups = wire.call(ApiKey.LIST_GROUPS, m.ListGroupsRequest()).groups
    assert ("round", "consumer", "Stable") in [(g.group_id, g.protocol_type, g.group_state) for g in groups]
    left = wire.call(
        ApiKey.LEAVE_GROUP,
        m.LeaveGroupRequest(group_id="round", members=[m.LeaveGroupRequest.MemberIdentity(member_id=member)]),
    )
    assert left.error_code == 0 and [x.error_code for x in left.members] == [0]
    described = wire.call(ApiKey.DESCRIBE_GROUPS, m.DescribeGroupsRequest(groups=["round"])).groups[0]
    assert (described.group_state, described.protocol_type, described.members) == ("Empty", "consumer", [])


def test_an_empty_group_id_is_invalid(wire) -> None:
    find(wire, "valid")
    assert join(wire, "").error_code == ErrorCode.INVALID_GROUP_ID
    answer = wire.call(ApiKey.FIND_COORDINATOR, m.FindCoordinatorRequest(key=""))
    assert answer.error_code == ErrorCode.INVALID_GROUP_ID and answer.node_id == -1


def test_a_join_that_does_not_decode_closes_only_its_connection(wire, shared_group_node) -> None:
    find(wire, "survivor")
    assert join(wire, "survivor").error_code == 0
    with WireClient(shared_group_node.broker_port) as bad:
        frame = encode_request(
            RequestHeader(int(ApiKey.JOIN_GROUP), 3, 1, "bad"),
            m.JoinGroupRequest(group_id="survivor", session_timeout_ms=10000),
        )
        payload = frame[4:-3]  # the body cut short
        bad.sock.sendall(struct.pack(">i", len(payload)) + payload)
        assert bad.closed_by_server()
    described = wire.call(ApiKey.DESCRIBE_GROUPS, m.DescribeGroupsRequest(groups=["survivor"])).groups[0]
    assert described.group_state in ("Stable", "CompletingRebalance") and len(described.members) == 1


def test_out_of_range_session_timeouts_are_refused(wire) -> None:
    find(wire, "timeouts")
    assert join(wire, "timeouts", session_timeout_ms=10).error_code == ErrorCode.INVALID_SESSION_TIMEOUT
    assert join(wire, "timeouts", session_timeout_ms=3_600_000).error_code == ErrorCode.INVALID_SESSION_TIMEOUT
