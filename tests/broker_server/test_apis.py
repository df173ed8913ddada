"""Every API against a live `pybroker start` node, over raw sockets with our frames."""

from __future__ import annotations

import time

import pytest

from client.protocol.api import SUPPORTED_VERSIONS, ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.record_batch import build_batch
from tests.broker_server.wire import WireClient, create_topic, fetch, produce, records_of


def batch(values: list[bytes], ts: int = 1_000) -> bytes:
    return build_batch([(None, v, None, ts + i) for i, v in enumerate(values)])


@pytest.fixture
def client(shared_node):
    with WireClient(shared_node.broker_port) as c:
        yield c


def test_api_versions_lists_every_supported_api(client):
    body = client.call(ApiKey.API_VERSIONS, {})
    assert body["error"] == 0
    assert {k: (lo, hi) for k, lo, hi in body["api_versions"]} == {int(k): v for k, v in SUPPORTED_VERSIONS.items()}
    refused = client.call(ApiKey.API_VERSIONS, {}, version=9)
    assert refused["error"] == ErrorCode.UNSUPPORTED_VERSION and refused["api_versions"]


def test_create_describe_delete_topic(client, shared_node):
    assert create_topic(client, "apis-orders", partitions=3, retention_ms="60000")["error"] == 0
    again = create_topic(client, "apis-orders")
    assert again["error"] == ErrorCode.TOPIC_ALREADY_EXISTS and "exists" in again["message"]
    meta = client.call(ApiKey.METADATA, {"topics": ["apis-orders", "apis-nope"]})
    assert meta["brokers"] == [{"id": 1, "host": "127.0.0.1", "port": shared_node.broker_port, "rack": None}]
    assert meta["controller_id"] == 1 and len(meta["cluster_id"]) == 22
    orders, nope = meta["topics"]
    assert [p["partition"] for p in orders["partitions"]] == [0, 1, 2]
    assert all(p["leader"] == 1 and p["isr"] == [1] and p["replicas"] == [1] for p in orders["partitions"])
    assert nope["error"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    deleted = client.call(ApiKey.DELETE_TOPICS, {"topics": ["apis-orders", "apis-nope"]})["topics"]
    assert [t["error"] for t in deleted] == [0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
    meta = client.call(ApiKey.METADATA, {"topics": None})
    assert "apis-orders" not in [t["name"] for t in meta["topics"]]


@pytest.mark.parametrize("entry, code", [
    ({"name": "apis-rf", "num_partitions": 1, "replication_factor": 2}, ErrorCode.INVALID_REPLICATION_FACTOR),
    ({"name": "apis-np", "num_partitions": 0}, ErrorCode.INVALID_PARTITIONS),
    ({"name": "bad/name"}, ErrorCode.INVALID_TOPIC_EXCEPTION),
    ({"name": "apis-cfg", "configs": {"retention.ms": "x"}}, ErrorCode.INVALID_CONFIG),
])
def test_create_topic_refusals_carry_messages(client, entry, code):
    result = client.call(ApiKey.CREATE_TOPICS, {"topics": [entry]})["topics"][0]
    assert result["error"] == code and result["message"]


def test_metadata_does_not_auto_create_by_default(client):
    meta = client.call(ApiKey.METADATA, {"topics": ["apis-auto"], "allow_auto_create": True})
    assert meta["topics"][0]["error"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


def test_produce_fetch_list_offsets(client):
    create_topic(client, "apis-pf", partitions=2)
    first = produce(client, "apis-pf", 1, batch([b"a", b"b", b"c"], ts=1_000))
    second = produce(client, "apis-pf", 1, batch([b"d", b"e"], ts=5_000), acks=-1)
    assert (first["error"], first["base_offset"], second["error"], second["base_offset"]) == (0, 0, 0, 3)
    part, tail = fetch(client, "apis-pf", 1, 0)
    assert part["error"] == 0 and part["high_watermark"] == 5 and part["records_size"] == len(tail)
    assert [(r.offset, r.value) for r in records_of(tail)] == [(0, b"a"), (1, b"b"), (2, b"c"), (3, b"d"), (4, b"e")]
    part, tail = fetch(client, "apis-pf", 1, 3)
    assert [r.offset for r in records_of(tail) if r.offset >= 3] == [3, 4]
    part, tail = fetch(client, "apis-pf", 1, 5)
    assert part["error"] == 0 and tail == b""
    part, _ = fetch(client, "apis-pf", 1, 6)
    assert part["error"] == ErrorCode.OFFSET_OUT_OF_RANGE and "outside" in part["message"]
    body = client.call(ApiKey.LIST_OFFSETS, {"partitions": [
        {"topic": "apis-pf", "partition": 1, "timestamp": t} for t in (-2, -1, 4_000, 99_000)]})
    assert [p["offset"] for p in body["partitions"]] == [0, 5, 3, -1]
    body = client.call(ApiKey.LIST_OFFSETS, {"partitions": [{"topic": "apis-pf", "partition": 0, "timestamp": -1}]})
    assert body["partitions"][0]["offset"] == 0


def test_fetch_long_poll_wakes_when_data_arrives(shared_node, client):
    create_topic(client, "apis-poll")
    poller = WireClient(shared_node.broker_port)
    try:
        cid = poller.send(ApiKey.FETCH, {"max_wait_ms": 20_000, "min_bytes": 1, "partitions": [
            {"topic": "apis-poll", "partition": 0, "fetch_offset": 0}]})
        meta_cid = poller.send(ApiKey.METADATA, {"topics": []})  # queued behind the long poll
        time.sleep(0.3)
        assert produce(client, "apis-poll", 0, batch([b"wake"]))["error"] == 0
        first, second = poller.receive(), poller.receive()
        assert (first.correlation_id, second.correlation_id) == (cid, meta_cid)  # answered in order
        assert [r.value for r in records_of(bytes(first.tail))] == [b"wake"]
    finally:
        poller.close()


def test_fetch_long_poll_answers_empty_after_max_wait(client):
    create_topic(client, "apis-wait")
    started = time.monotonic()
    part, tail = fetch(client, "apis-wait", 0, 0, max_wait_ms=300)
    assert part["error"] == 0 and tail == b"" and time.monotonic() - started >= 0.25


def test_pipelined_produces_are_answered_in_order(client):
    create_topic(client, "apis-pipe")
    cids = [client.send(ApiKey.PRODUCE, {"acks": 1, "partitions": [
        {"topic": "apis-pipe", "partition": 0, "records": batch([b"%d" % i])}]}) for i in range(200)]
    responses = [client.receive() for _ in cids]
    assert [r.correlation_id for r in responses] == cids
    assert [r.body["partitions"][0]["base_offset"] for r in responses] == list(range(200))


def test_acks_zero_gets_no_response(client):
    create_topic(client, "apis-acks0")
    client.send(ApiKey.PRODUCE, {"acks": 0, "partitions": [
        {"topic": "apis-acks0", "partition": 0, "records": batch([b"x"])}]})
    body = client.call(ApiKey.LIST_OFFSETS, {"partitions": [{"topic": "apis-acks0", "partition": 0, "timestamp": -1}]})
    assert body["partitions"][0]["offset"] == 1  # the next response is ListOffsets', and it saw the write


def test_produce_refusals(client):
    create_topic(client, "apis-bad")
    assert produce(client, "apis-missing", 0, batch([b"x"]))["error"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert produce(client, "apis-bad", 7, batch([b"x"]))["error"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    bad_crc = bytearray(batch([b"hello"]))
    bad_crc[-1] ^= 0xFF
    refused = produce(client, "apis-bad", 0, bytes(bad_crc))
    assert refused["error"] == ErrorCode.CORRUPT_MESSAGE and refused["message"]
    too_big = batch([b"x" * 1_100_000])
    assert produce(client, "apis-bad", 0, too_big)["error"] == ErrorCode.MESSAGE_TOO_LARGE
    assert produce(client, "apis-bad", 0, batch([b"ok"]), acks=5)["error"] == ErrorCode.INVALID_REQUIRED_ACKS
    assert produce(client, "apis-bad", 0, batch([b"ok"]))["base_offset"] == 0  # nothing bad was written


def test_fetch_limits_are_soft_and_cut_at_batch_boundaries(client):
    create_topic(client, "apis-limits", partitions=2)
    for p in (0, 1):
        for i in range(5):
            assert produce(client, "apis-limits", p, batch([b"x" * 900], ts=i))["error"] == 0
    one_batch = len(batch([b"x" * 900]))
    body, tail = client.fetch({"max_wait_ms": 0, "partitions": [
        {"topic": "apis-limits", "partition": 0, "fetch_offset": 0, "partition_max_bytes": 2 * one_batch + 10}]})
    assert body["partitions"][0]["records_size"] == 2 * one_batch == len(tail)
    body, tail = client.fetch({"max_wait_ms": 0, "partitions": [
        {"topic": "apis-limits", "partition": 0, "fetch_offset": 1, "partition_max_bytes": 10}]})
    assert [r.offset for r in records_of(tail)] == [1]  # one whole batch even above the limit
    body, tail = client.fetch({"max_wait_ms": 0, "max_bytes": 10, "partitions": [
        {"topic": "apis-limits", "partition": p, "fetch_offset": 0} for p in (0, 1)]})
    sizes = [p["records_size"] for p in body["partitions"]]
    assert sizes == [one_batch, 0] and len(tail) == one_batch


def test_deleting_a_topic_ends_long_polls_on_it(shared_node, client):
    create_topic(client, "apis-doomed")
    with WireClient(shared_node.broker_port) as poller:
        cid = poller.send(ApiKey.FETCH, {"max_wait_ms": 20_000, "partitions": [
            {"topic": "apis-doomed", "partition": 0, "fetch_offset": 0}]})
        time.sleep(0.2)
        started = time.monotonic()
        assert client.call(ApiKey.DELETE_TOPICS, {"topics": ["apis-doomed"]})["topics"][0]["error"] == 0
        resp = poller.receive()
        assert resp.correlation_id == cid and time.monotonic() - started < 10
        assert resp.body["partitions"][0]["error"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


def test_controller_requests_from_a_stale_controller_or_for_another_registration_are_refused(client):
    create_topic(client, "fenced")
    header = {"controller_id": 9, "partitions": []}
    # addressed to another registration of this broker (an earlier run): refused, nothing recorded
    stale_broker = client.call(ApiKey.LEADER_AND_ISR, {**header, "controller_epoch": 1 << 30, "broker_epoch": -5})
    assert stale_broker["error"] == ErrorCode.STALE_BROKER_EPOCH and "registration" in stale_broker["message"]
    # older than the controller epoch this broker already obeys (its own controller's, >= 1)
    for api in (ApiKey.LEADER_AND_ISR, ApiKey.UPDATE_METADATA, ApiKey.STOP_REPLICA):
        stale = client.call(api, {**header, "controller_epoch": 0, "broker_epoch": -5})
        assert stale["error"] == ErrorCode.STALE_CONTROLLER_EPOCH and "older" in stale["message"]
    # the real controller still leads the topic: produce works
    assert produce(client, "fenced", 0, build_batch([(None, b"v", None, 1)]))["error"] == 0
    answer = client.call(ApiKey.OFFSETS_FOR_LEADER_EPOCH, {"replica_id": 2, "partitions": [
        {"topic": "fenced", "partition": 0, "current_leader_epoch": 0, "leader_epoch": 0}]})["partitions"][0]
    assert (answer["error"], answer["leader_epoch"], answer["end_offset"]) == (0, 0, 1)
