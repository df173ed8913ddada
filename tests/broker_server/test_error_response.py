"""The generic error response of a failed request (no sockets): every served API and version
gets one that encodes, with the request's topics and partitions mirrored and each error_code
set, as Kafka's per-API error responses have them."""

from __future__ import annotations

from broker.server.handlers import HANDLERS
from broker.server.handlers.common import error_response
from client.protocol import messages as m
from client.protocol.api import SUPPORTED_VERSIONS, ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader

CODE = ErrorCode.UNKNOWN_SERVER_ERROR


def header(key: ApiKey, version: int) -> RequestHeader:
    return RequestHeader(int(key), version, 1, "t")


def test_every_served_version_has_an_error_response_that_encodes():
    for key, (low, high) in SUPPORTED_VERSIONS.items():
        spec = m.API_BY_KEY[key]
        for version in range(low, high + 1):
            response = error_response(header(key, version), spec.request(), CODE, "boom")
            assert isinstance(response, spec.response)
            spec.response.decode(response.encode(version), version)
            if "error_code" in response.__slots__:
                assert response.error_code == CODE


def test_produce_error_mirrors_topics_and_partitions():
    P = m.ProduceRequest
    req = P(
        acks=1,
        topic_data=[
            P.TopicProduceData(
                name="a", partition_data=[P.PartitionProduceData(index=i, records=b"x") for i in (2, 0)]
            ),
            P.TopicProduceData(name="b", partition_data=[P.PartitionProduceData(index=5)]),
        ],
    )
    response = error_response(header(ApiKey.PRODUCE, 9), req, CODE, "boom")
    assert [
        (t.name, [(p.index, p.error_code, p.error_message) for p in t.partition_responses]) for t in response.responses
    ] == [("a", [(2, CODE, "boom"), (0, CODE, "boom")]), ("b", [(5, CODE, "boom")])]


def test_fetch_and_list_offsets_errors_mirror_partitions():
    F = m.FetchRequest
    req = F(topics=[F.FetchTopic(topic="t", partitions=[F.FetchPartition(partition=3)])])
    response = error_response(header(ApiKey.FETCH, 12), req, CODE)
    assert response.error_code == CODE
    part = response.responses[0].partitions[0]
    assert (response.responses[0].topic, part.partition_index, part.error_code) == ("t", 3, CODE)
    L = m.ListOffsetsRequest
    req = L(topics=[L.ListOffsetsTopic(name="t", partitions=[L.ListOffsetsPartition(partition_index=4)])])
    response = error_response(header(ApiKey.LIST_OFFSETS, 7), req, CODE)
    part = response.topics[0].partitions[0]
    assert (response.topics[0].name, part.partition_index, part.error_code) == ("t", 4, CODE)


def test_topic_admin_errors_mirror_topic_names():
    req = m.DeleteTopicsRequest(topic_names=["x", "y"])
    response = error_response(header(ApiKey.DELETE_TOPICS, 5), req, CODE, "no")
    assert [(r.name, r.error_code, r.error_message) for r in response.responses] == [
        ("x", CODE, "no"),
        ("y", CODE, "no"),
    ]
    C = m.CreateTopicsRequest
    req = C(topics=[C.CreatableTopic(name="n", configs=[C.CreateableTopicConfig(name="retention.ms", value="1")])])
    response = error_response(header(ApiKey.CREATE_TOPICS, 5), req, CODE)
    assert [(t.name, t.error_code, t.configs) for t in response.topics] == [("n", CODE, [])]
    req = m.MetadataRequest(topics=[m.MetadataRequest.MetadataRequestTopic(name="q")])
    response = error_response(header(ApiKey.METADATA, 12), req, CODE)
    assert [(t.name, t.error_code) for t in response.topics] == [("q", CODE)] and response.brokers == []


def test_every_served_api_has_a_handler():
    assert set(HANDLERS) == set(SUPPORTED_VERSIONS)
