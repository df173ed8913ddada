"""The data-path and admin APIs against a live `pybroker start` node, over raw sockets in
Kafka's frames (typed messages from the codec), at the versions clients send."""

from __future__ import annotations

import time

import pytest

from client.protocol import messages as m
from client.protocol.api import SUPPORTED_VERSIONS, ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.record_batch import build_batch
from tests.broker_server.wire import (
    WireClient,
    create_topic,
    fetch,
    fetch_request,
    list_offset,
    metadata,
    produce,
    produce_request,
    records_of,
)
from tests.support.node import requests_in_flight
from tests.support.waiting import wait_until


def batch(values: list[bytes], ts: int = 1_000) -> bytes:
    return build_batch([(None, v, None, ts + i) for i, v in enumerate(values)])


@pytest.fixture
def client(shared_node):
    with WireClient(shared_node.broker_port) as c:
        yield c


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_api_versions_lists_every_supported_api(client, version):
    body = client.call(
        ApiKey.API_VERSIONS, m.ApiVersionsRequest(client_software_name="tests", client_software_version="1"), version
    )
    assert body.error_code == 0
    assert {k.api_key: (k.min_version, k.max_version) for k in body.api_keys} == {
        int(k): v for k, v in SUPPORTED_VERSIONS.items()
    }


def test_api_versions_of_a_version_we_do_not_know_answers_the_table_in_v0(client):
    # header v2 (client id "x", no tagged fields), then a v3 body: what a newer client sends
    header = client.send_raw(ApiKey.API_VERSIONS, 9, b"\x00\x01x\x00" + m.ApiVersionsRequest().encode(3))
    refused = client.receive(header)
    assert refused.error_code == ErrorCode.UNSUPPORTED_VERSION
    assert {k.api_key for k in refused.api_keys} == {int(k) for k in SUPPORTED_VERSIONS}
    assert client.call(ApiKey.API_VERSIONS, m.ApiVersionsRequest()).error_code == 0  # same connection


@pytest.mark.parametrize("version", [0, 1, 4, 7, 9, 12])
def test_metadata_at_every_layout(client, shared_node, version):
    name = f"apis-meta-{version}"
    assert create_topic(client, name, partitions=3).error_code == 0
    meta = metadata(client, [name, f"apis-nope-{version}"], version=version)
    assert [(b.node_id, b.host, b.port) for b in meta.brokers] == [(1, "127.0.0.1", shared_node.broker_port)]
    if version >= 1:
        assert meta.controller_id == 1
    if version >= 2:
        assert len(meta.cluster_id) == 22
    topic, nope = meta.topics
    assert [p.partition_index for p in topic.partitions] == [0, 1, 2]
    assert all((p.leader_id, p.isr_nodes, p.replica_nodes) == (1, [1], [1]) for p in topic.partitions)
    assert all(p.leader_epoch == (0 if version >= 7 else -1) for p in topic.partitions)
    # before v4 a request cannot decline auto-creation, and auto.create.topics.enable defaults to true
    assert nope.error_code == (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION if version >= 4 else 0)


def test_metadata_for_all_topics(client):
    create_topic(client, "apis-all")
    assert "apis-all" in [t.name for t in metadata(client, None).topics]
    assert "apis-all" in [t.name for t in client.call(ApiKey.METADATA, m.MetadataRequest(topics=[]), 0).topics]
    assert metadata(client, [], version=1).topics == []


def test_metadata_auto_creates_topics_unless_the_request_says_not_to(client):
    asked = metadata(client, ["apis-auto-no"], auto_create=False)
    assert asked.topics[0].error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    made = metadata(client, ["apis-auto-yes"], auto_create=True).topics[0]
    assert made.error_code == 0 and len(made.partitions) == 1  # num.partitions defaults to 1
    bad = metadata(client, ["bad/name"], auto_create=True).topics[0]
    assert bad.error_code == ErrorCode.INVALID_TOPIC_EXCEPTION


def test_create_describe_delete_topic(client):
    created = create_topic(client, "apis-orders", partitions=3, retention_ms="60000")
    assert (created.error_code, created.num_partitions, created.replication_factor) == (0, 3, 1)
    configs = {c.name: c.value for c in created.configs}
    assert configs["retention.ms"] == "60000" and configs["cleanup.policy"] == "delete"
    again = create_topic(client, "apis-orders")
    assert again.error_code == ErrorCode.TOPIC_ALREADY_EXISTS and "exists" in again.error_message
    deleted = client.call(
        ApiKey.DELETE_TOPICS, m.DeleteTopicsRequest(topic_names=["apis-orders", "apis-nope"], timeout_ms=10000)
    ).responses
    assert [(t.name, t.error_code) for t in deleted] == [
        ("apis-orders", 0),
        ("apis-nope", ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
    ]
    assert "apis-orders" not in [t.name for t in metadata(client, None).topics]


def test_create_topics_validate_only_and_broker_defaults(client):
    req = m.CreateTopicsRequest(
        validate_only=True,
        topics=[m.CreateTopicsRequest.CreatableTopic(name="apis-dry", num_partitions=2, replication_factor=1)],
    )
    assert client.call(ApiKey.CREATE_TOPICS, req).topics[0].error_code == 0
    assert metadata(client, ["apis-dry"]).topics[0].error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    result = create_topic(client, "apis-defaults", partitions=-1, replication_factor=-1)
    assert (result.error_code, result.num_partitions, result.replication_factor) == (0, 1, 1)


@pytest.mark.parametrize("version", [0, 1, 4, 5])
@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"name": "apis-rf", "replication_factor": 2}, ErrorCode.INVALID_REPLICATION_FACTOR),
        ({"name": "apis-np", "partitions": 0}, ErrorCode.INVALID_PARTITIONS),
        ({"name": "bad/name"}, ErrorCode.INVALID_TOPIC_EXCEPTION),
        ({"name": "apis-cfg", "retention_ms": "x"}, ErrorCode.INVALID_CONFIG),
    ],
)
def test_create_topic_refusals(client, version, kwargs, code):
    result = create_topic(client, version=version, **kwargs)
    assert result.error_code == code
    if version >= 1:
        assert result.error_message


@pytest.mark.parametrize("produce_version, fetch_version", [(3, 4), (5, 7), (7, 11), (9, 12)])
def test_produce_fetch_list_offsets(client, produce_version, fetch_version):
    name = f"apis-pf-{produce_version}"
    create_topic(client, name, partitions=2)
    first = produce(client, name, 1, batch([b"a", b"b", b"c"], ts=1_000), version=produce_version)
    second = produce(client, name, 1, batch([b"d", b"e"], ts=5_000), acks=-1, version=produce_version)
    assert (first.error_code, first.base_offset, second.error_code, second.base_offset) == (0, 0, 0, 3)
    part, data = fetch(client, name, 1, 0, version=fetch_version)
    assert (part.error_code, part.high_watermark, part.last_stable_offset) == (0, 5, 5)
    assert [(r.offset, r.value) for r in records_of(data)] == [(0, b"a"), (1, b"b"), (2, b"c"), (3, b"d"), (4, b"e")]
    part, data = fetch(client, name, 1, 3, version=fetch_version)
    assert [r.offset for r in records_of(data) if r.offset >= 3] == [3, 4]
    part, data = fetch(client, name, 1, 5, version=fetch_version)
    assert part.error_code == 0 and data == b""
    part, _ = fetch(client, name, 1, 6, version=fetch_version)
    assert part.error_code == ErrorCode.OFFSET_OUT_OF_RANGE
    for version in (1, 4, 7):
        assert [list_offset(client, name, 1, t, version).offset for t in (-2, -1, 4_000, 99_000)] == [0, 5, 3, -1]
    assert list_offset(client, name, 0, -1).offset == 0


def test_produce_response_names_topics_and_partitions_as_asked(client):
    create_topic(client, "apis-multi", partitions=2)
    req = m.ProduceRequest(
        acks=1,
        timeout_ms=5000,
        topic_data=[
            m.ProduceRequest.TopicProduceData(
                name="apis-multi",
                partition_data=[
                    m.ProduceRequest.PartitionProduceData(index=p, records=batch([b"x"])) for p in (1, 0, 7)
                ],
            ),
            m.ProduceRequest.TopicProduceData(
                name="apis-none", partition_data=[m.ProduceRequest.PartitionProduceData(index=0, records=batch([b"y"]))]
            ),
        ],
    )
    answer = client.call(ApiKey.PRODUCE, req)
    assert [(t.name, [(p.index, p.error_code) for p in t.partition_responses]) for t in answer.responses] == [
        ("apis-multi", [(1, 0), (0, 0), (7, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)]),
        ("apis-none", [(0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)]),
    ]


def test_fetch_long_poll_wakes_when_data_arrives(shared_node, client):
    create_topic(client, "apis-poll")
    with WireClient(shared_node.broker_port) as poller:
        polling = poller.send(ApiKey.FETCH, fetch_request([("apis-poll", 0, 0)], max_wait_ms=20_000))
        queued = poller.send(ApiKey.METADATA, m.MetadataRequest(topics=[]))  # queued behind the long poll
        wait_until("the long poll to reach the broker", lambda: requests_in_flight(shared_node) >= 1, timeout=10)
        assert produce(client, "apis-poll", 0, batch([b"wake"])).error_code == 0
        first = poller.receive(polling)  # answered in order: receive() checks the correlation id
        poller.receive(queued)
        assert [r.value for r in records_of(bytes(first.responses[0].partitions[0].records))] == [b"wake"]


def test_fetch_long_poll_answers_empty_after_max_wait(client):
    create_topic(client, "apis-wait")
    started = time.monotonic()
    part, data = fetch(client, "apis-wait", 0, 0, max_wait_ms=300)
    assert part.error_code == 0 and data == b"" and time.monotonic() - started >= 0.25


def test_fetch_with_a_session_we_never_opened_is_refused(client):
    req = fetch_request([("apis-wait", 0, 0)])
    req.session_id, req.session_epoch = 77, 3
    assert client.call(ApiKey.FETCH, req).error_code == ErrorCode.FETCH_SESSION_ID_NOT_FOUND


def test_pipelined_produces_are_answered_in_order(client):
    create_topic(client, "apis-pipe")
    headers = [client.send(ApiKey.PRODUCE, produce_request("apis-pipe", 0, batch([b"%d" % i]))) for i in range(200)]
    offsets = [client.receive(h).responses[0].partition_responses[0].base_offset for h in headers]
    assert offsets == list(range(200))


def test_acks_zero_gets_no_response(client):
    create_topic(client, "apis-acks0")
    client.send(ApiKey.PRODUCE, produce_request("apis-acks0", 0, batch([b"x"]), acks=0))
    # the next response is ListOffsets', and it saw the write
    assert list_offset(client, "apis-acks0", 0, -1).offset == 1


def test_produce_refusals(client):
    create_topic(client, "apis-bad")
    assert produce(client, "apis-missing", 0, batch([b"x"]), acks=1).error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert produce(client, "apis-bad", 7, batch([b"x"])).error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    bad_crc = bytearray(batch([b"hello"]))
    bad_crc[-1] ^= 0xFF
    refused = produce(client, "apis-bad", 0, bytes(bad_crc))
    assert refused.error_code == ErrorCode.CORRUPT_MESSAGE and refused.error_message
    assert produce(client, "apis-bad", 0, None).error_code == ErrorCode.CORRUPT_MESSAGE
    too_big = batch([b"x" * 1_100_000])
    assert produce(client, "apis-bad", 0, too_big).error_code == ErrorCode.MESSAGE_TOO_LARGE
    assert produce(client, "apis-bad", 0, batch([b"ok"]), acks=5).error_code == ErrorCode.INVALID_REQUIRED_ACKS
    for old in (0, 1, 2):  # the message formats before RecordBatch v2
        assert produce(client, "apis-bad", 0, batch([b"ok"]), version=old).error_code == ErrorCode.UNSUPPORTED_VERSION
    txn = produce_request("apis-bad", 0, batch([b"ok"]))
    txn.transactional_id = "tx"
    assert client.call(ApiKey.PRODUCE, txn).responses[0].partition_responses[0].error_code == ErrorCode.INVALID_REQUEST
    internal = produce(client, "__consumer_offsets", 0, batch([b"ok"]))
    assert internal.error_code == ErrorCode.INVALID_TOPIC_EXCEPTION
    assert produce(client, "apis-bad", 0, batch([b"ok"])).base_offset == 0  # nothing bad was written


def test_fetch_limits_are_soft_and_cut_at_batch_boundaries(client):
    create_topic(client, "apis-limits", partitions=2)
    for p in (0, 1):
        for i in range(5):
            assert produce(client, "apis-limits", p, batch([b"x" * 900], ts=i)).error_code == 0
    one_batch = len(batch([b"x" * 900]))
    _, data = fetch(client, "apis-limits", 0, 0, partition_max_bytes=2 * one_batch + 10)
    assert len(data) == 2 * one_batch
    _, data = fetch(client, "apis-limits", 0, 1, partition_max_bytes=10)
    assert [r.offset for r in records_of(data)] == [1]  # one whole batch even above the limit
    answer = client.call(ApiKey.FETCH, fetch_request([("apis-limits", 0, 0), ("apis-limits", 1, 0)], max_bytes=10))
    # one topic in the answer: as Kafka, a topic named twice is answered once
    sizes = [len(bytes(p.records)) for t in answer.responses for p in t.partitions]
    assert sizes == [one_batch, 0]


def test_deleting_a_topic_ends_long_polls_on_it(shared_node, client):
    create_topic(client, "apis-doomed")
    with WireClient(shared_node.broker_port) as poller:
        polling = poller.send(ApiKey.FETCH, fetch_request([("apis-doomed", 0, 0)], max_wait_ms=20_000))
        poller.send(ApiKey.METADATA, m.MetadataRequest(topics=[]))  # counted once it waits behind the poll
        wait_until("the long poll to reach the broker", lambda: requests_in_flight(shared_node) >= 1, timeout=10)
        started = time.monotonic()
        deleted = client.call(ApiKey.DELETE_TOPICS, m.DeleteTopicsRequest(topic_names=["apis-doomed"]))
        assert deleted.responses[0].error_code == 0
        answer = poller.receive(polling)
        assert time.monotonic() - started < 10
        assert answer.responses[0].partitions[0].error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


def test_fetch_tells_a_consumer_where_its_log_diverged(client):
    create_topic(client, "apis-diverge")
    produce(client, "apis-diverge", 0, batch([b"a", b"b"]))
    req = fetch_request([("apis-diverge", 0, 1)])
    req.topics[0].partitions[0].last_fetched_epoch = 0  # the epoch we are at: no divergence
    part = client.call(ApiKey.FETCH, req).responses[0].partitions[0]
    assert part.diverging_epoch.epoch == -1 and bytes(part.records)
    req.topics[0].partitions[0].last_fetched_epoch = 3  # an epoch this log never had
    part = client.call(ApiKey.FETCH, req).responses[0].partitions[0]
    assert (part.error_code, part.diverging_epoch.epoch, part.diverging_epoch.end_offset) == (0, 0, 2)
    assert not part.records


def test_fetch_with_a_stale_leader_epoch_names_the_current_leader(client):
    create_topic(client, "apis-fenced")
    req = fetch_request([("apis-fenced", 0, 0)])
    req.topics[0].partitions[0].current_leader_epoch = 5  # newer than the leader's epoch 0
    part = client.call(ApiKey.FETCH, req).responses[0].partitions[0]
    assert part.error_code == ErrorCode.UNKNOWN_LEADER_EPOCH
    assert (part.current_leader.leader_id, part.current_leader.leader_epoch) == (1, 0)
