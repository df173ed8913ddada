"""The group APIs on the wire, against a real node with a raw socket client: the offsets
topic is created on first use (compacted, 10 partitions), bad bodies get INVALID_REQUEST
and lose nothing, unknown members and generations get their error codes."""

from __future__ import annotations

import time

import pytest

from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from tests.broker_server.wire import WireClient


@pytest.fixture
def wire(shared_group_node):
    with WireClient(shared_group_node.broker_port) as client:
        yield client


def find(wire: WireClient, group: str) -> dict:
    for _ in range(100):
        answer = wire.call(ApiKey.FIND_COORDINATOR, {"key": group})
        if answer["error"] == 0:
            return answer
        assert answer["error"] in (ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
        time.sleep(0.1)
    raise AssertionError(f"no coordinator: {answer}")


def join(wire: WireClient, group: str, member_id: str = "", session_timeout_ms: int = 10000) -> dict:
    for _ in range(100):
        answer = wire.call(ApiKey.JOIN_GROUP, {"group_id": group, "session_timeout_ms": session_timeout_ms,
                                               "member_id": member_id,
                                               "protocol_type": "consumer",
                                               "protocols": [{"name": "range", "metadata": b"m"}]})
        if answer["error"] != ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
            return answer
        time.sleep(0.1)
    raise AssertionError("the offsets partition never finished loading")


def test_the_offsets_topic_is_created_compacted_on_first_use(wire, shared_group_node) -> None:
    answer = find(wire, "first-use")
    assert (answer["node_id"], answer["port"]) == (1, shared_group_node.broker_port)
    meta = wire.call(ApiKey.METADATA, {"topics": ["__consumer_offsets"]})
    assert len(meta["topics"][0]["partitions"]) == 10
    assert len(list((shared_group_node.data_dir / "logs").glob("__consumer_offsets-*"))) == 10


def test_a_whole_round_and_the_errors_of_strangers(wire) -> None:
    find(wire, "round")
    joined = join(wire, "round")
    assert joined["error"] == 0 and joined["leader"] == joined["member_id"] and len(joined["members"]) == 1
    member, generation = joined["member_id"], joined["generation_id"]
    synced = wire.call(ApiKey.SYNC_GROUP, {"group_id": "round", "generation_id": generation, "member_id": member,
                                           "assignments": [{"member_id": member, "assignment": b"mine"}]})
    assert synced["error"] == 0 and synced["assignment"] == b"mine"
    beat = {"group_id": "round", "generation_id": generation, "member_id": member}
    assert wire.call(ApiKey.HEARTBEAT, beat)["error"] == 0
    assert wire.call(ApiKey.HEARTBEAT, {**beat, "member_id": "stranger"})["error"] == ErrorCode.UNKNOWN_MEMBER_ID
    assert wire.call(ApiKey.HEARTBEAT, {**beat, "generation_id": 99})["error"] == ErrorCode.ILLEGAL_GENERATION
    committed = wire.call(ApiKey.OFFSET_COMMIT, {**beat, "partitions": [{"topic": "x", "partition": 0, "offset": 9}]})
    assert committed["partitions"] == [{"topic": "x", "partition": 0, "error": 0}]
    stale = wire.call(ApiKey.OFFSET_COMMIT, {**beat, "generation_id": 0,
                                             "partitions": [{"topic": "x", "partition": 0, "offset": 10}]})
    assert stale["error"] == ErrorCode.ILLEGAL_GENERATION
    fetched = wire.call(ApiKey.OFFSET_FETCH, {"group_id": "round", "partitions": [{"topic": "x", "partition": 0},
                                                                                  {"topic": "x", "partition": 1}]})
    assert [(p["partition"], p["offset"]) for p in fetched["partitions"]] == [(0, 9), (1, -1)]
    groups = wire.call(ApiKey.LIST_GROUPS, {})["groups"]
    assert {"group_id": "round", "protocol_type": "consumer", "state": "Stable"} in groups
    left = wire.call(ApiKey.LEAVE_GROUP, {"group_id": "round", "members": [{"member_id": member}]})
    assert left["error"] == 0 and left["members"][0]["error"] == 0
    described = wire.call(ApiKey.DESCRIBE_GROUPS, {"groups": ["round"]})["groups"][0]
    assert described["state"] == "Empty" and described["members"] == []


@pytest.mark.parametrize("api, body", [
    (ApiKey.JOIN_GROUP, {"group_id": "bad", "protocol_type": "consumer", "protocols": []}),      # no session timeout
    (ApiKey.JOIN_GROUP, {"group_id": "", "session_timeout_ms": 10000, "protocol_type": "consumer", "protocols": []}),
    (ApiKey.JOIN_GROUP, {"group_id": "bad", "session_timeout_ms": 10000, "protocol_type": "consumer",
                         "protocols": [{"name": "range", "metadata": "not bytes"}]}),
    (ApiKey.SYNC_GROUP, {"group_id": "bad", "generation_id": "1", "member_id": "m", "assignments": []}),
    (ApiKey.HEARTBEAT, {"group_id": 7, "generation_id": 1, "member_id": "m"}),
    (ApiKey.OFFSET_COMMIT, {"group_id": "bad", "partitions": [{"topic": "x", "partition": 0, "offset": -5}]}),
    (ApiKey.OFFSET_COMMIT, {"group_id": "bad", "partitions": [{"topic": "x", "partition": -1, "offset": 5}]}),
    (ApiKey.OFFSET_FETCH, {"group_id": "bad", "partitions": ["x"]}),
    (ApiKey.DESCRIBE_GROUPS, {"groups": [""]}),
    (ApiKey.LEAVE_GROUP, {"group_id": "bad", "members": "m"}),
])
def test_malformed_group_requests_are_refused_with_a_reason(wire, api, body) -> None:
    answer = wire.call(api, body)
    assert answer["error"] == ErrorCode.INVALID_REQUEST and answer["message"]
    assert wire.call(ApiKey.OFFSET_FETCH, {"group_id": "bad", "partitions": None})["partitions"] == []


def test_out_of_range_session_timeouts_are_refused(wire) -> None:
    find(wire, "timeouts")
    assert join(wire, "timeouts", session_timeout_ms=10)["error"] == ErrorCode.INVALID_SESSION_TIMEOUT
    assert join(wire, "timeouts", session_timeout_ms=3_600_000)["error"] == ErrorCode.INVALID_SESSION_TIMEOUT
