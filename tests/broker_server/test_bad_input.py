"""Hostile and broken clients on Kafka's protocol against a live node: each is answered with
Kafka's error code or cut off alone, as Kafka does; the broker keeps serving everyone else
and loses nothing it stored."""

from __future__ import annotations

import socket
import struct

import pytest

from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.frames import LENGTH
from client.protocol.kafka_frames import RequestHeader, encode_request
from client.protocol.record_batch import HEADER_SIZE, build_batch, pack_batch, read_header
from tests.broker_server.wire import WireClient, create_topic, fetch, metadata, produce, produce_request, records_of

KEPT = "bad-input-kept"


@pytest.fixture(scope="module")
def stored(shared_node) -> bytes:
    """Records written before the abuse starts; every test checks they are still there."""
    with WireClient(shared_node.broker_port) as c:
        assert create_topic(c, KEPT).error_code == 0
        assert produce(c, KEPT, 0, build_batch([(b"k", b"kept", None, 1)])).error_code == 0
        return fetch(c, KEPT, 0, 0)[1]


def still_serves(port: int, stored: bytes) -> None:
    """Another client gets answers, and what was stored before is still there."""
    with WireClient(port) as other:
        assert other.call(ApiKey.API_VERSIONS, m.ApiVersionsRequest()).error_code == 0
        part, data = fetch(other, KEPT, 0, 0)
        assert part.error_code == 0 and data[: len(stored)] == stored
        assert [r.value for r in records_of(data)][:1] == [b"kept"]


def frame(api_key: int, version: int, rest: bytes, correlation_id: int = 1) -> bytes:
    payload = struct.pack(">hhi", api_key, version, correlation_id) + rest
    return LENGTH.pack(len(payload)) + payload


def metadata_frame() -> bytes:
    return encode_request(RequestHeader(ApiKey.METADATA, 9, 5, "t"), m.MetadataRequest(topics=None))


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"\x00\x00\x00\x05hello", id="shorter-than-a-header"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", id="http: a huge length"),
        pytest.param(LENGTH.pack(-5), id="negative-length"),
        pytest.param(LENGTH.pack(200 * 1024 * 1024) + b"x" * 100, id="above-socket.request.max.bytes"),
        pytest.param(frame(999, 0, b"\x00\x00"), id="unknown-api-key"),
        pytest.param(frame(ApiKey.METADATA, 13, b"\x00\x00\x00\x00"), id="unserved-version"),
        pytest.param(frame(ApiKey.FETCH, 3, b"\x00\x00"), id="below-the-served-versions"),
        pytest.param(frame(ApiKey.METADATA, 1, b"\x00\x05ab"), id="client-id-longer-than-the-frame"),
        pytest.param(LENGTH.pack(len(metadata_frame()) - 6) + metadata_frame()[4:], id="length-prefix-cuts-the-body"),
        pytest.param(frame(ApiKey.METADATA, 1, b"\x00\x01x" + b"\x00\x00\x00\x05"), id="array-count-past-the-end"),
    ],
)
def test_bad_frames_close_only_that_connection(shared_node, stored, payload):
    c = WireClient(shared_node.broker_port)
    c.sock.sendall(payload)
    assert c.closed_by_server()
    c.close()
    still_serves(shared_node.broker_port, stored)


def test_bytes_after_a_request_body_are_ignored_as_kafka_does(shared_node):
    # librdkafka 2.x's Metadata v12 request for all topics, three bytes longer than its body
    with WireClient(shared_node.broker_port) as c:
        c.sock.sendall(frame(ApiKey.METADATA, 12, bytes.fromhex("000772646b61666b610000000000010000"), 9))
        answer = c.receive(RequestHeader(ApiKey.METADATA, 12, 9, None))
        assert KEPT in [t.name for t in answer.topics]


def test_requests_before_a_bad_frame_are_answered_first(shared_node, stored):
    with WireClient(shared_node.broker_port) as c:
        header = c.send(ApiKey.METADATA, m.MetadataRequest(topics=[]))
        c.sock.sendall(frame(999, 0, b""))
        assert c.receive(header).topics == []
        assert c.closed_by_server()
    still_serves(shared_node.broker_port, stored)


def test_truncated_frame_then_disconnect(shared_node, stored):
    data = metadata_frame()
    with socket.create_connection(("127.0.0.1", shared_node.broker_port)) as s:
        s.sendall(data[: len(data) // 2])
    still_serves(shared_node.broker_port, stored)


def test_damaged_lying_and_unknown_codec_batches_are_refused_and_the_connection_stays(shared_node, stored):
    with WireClient(shared_node.broker_port) as c:
        create_topic(c, "bad-crc")
        good = build_batch([(b"k", b"v", None, 1)])
        broken = bytearray(good)
        broken[40] ^= 0x01  # inside the crc-covered part of the header
        assert produce(c, "bad-crc", 0, bytes(broken)).error_code == ErrorCode.CORRUPT_MESSAGE
        longer = bytearray(good)
        struct.pack_into(">i", longer, 8, len(good))  # batch_length says more bytes than there are
        assert produce(c, "bad-crc", 0, bytes(longer)).error_code == ErrorCode.CORRUPT_MESSAGE
        assert produce(c, "bad-crc", 0, b"\x00" * 10).error_code == ErrorCode.CORRUPT_MESSAGE
        h = read_header(good)
        claims_two = pack_batch(
            good[HEADER_SIZE:],
            base_offset=0,
            record_count=2,
            last_offset_delta=1,
            attributes=h.attributes,
            base_timestamp=1,
            max_timestamp=1,
        )  # crc recomputed
        assert produce(c, "bad-crc", 0, claims_two).error_code == ErrorCode.INVALID_RECORD
        codec5 = pack_batch(
            good[HEADER_SIZE:],
            base_offset=0,
            record_count=1,
            last_offset_delta=0,
            attributes=5,
            base_timestamp=1,
            max_timestamp=1,
        )
        assert produce(c, "bad-crc", 0, codec5).error_code == ErrorCode.CORRUPT_MESSAGE
        assert produce(c, "no-such-topic", 0, good).error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        assert produce(c, "bad-crc", 0, good).base_offset == 0  # nothing of the refused batches was stored
        assert metadata(c, ["bad-crc"]).topics[0].error_code == 0
    still_serves(shared_node.broker_port, stored)


def test_acks_zero_failure_closes_the_connection(shared_node, stored):
    c = WireClient(shared_node.broker_port)
    c.send(ApiKey.PRODUCE, produce_request("nowhere", 0, b"x", acks=0))
    assert c.closed_by_server()
    c.close()
    still_serves(shared_node.broker_port, stored)
