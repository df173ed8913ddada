"""Hostile and broken clients against a live node: each is answered or cut off cleanly,
and the broker keeps serving everyone else."""

from __future__ import annotations

import socket

import msgpack
import pytest

from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.frames import LENGTH, encode_request
from client.protocol.record_batch import build_batch
from tests.broker_server.wire import WireClient, create_topic, produce


def still_serves(port: int) -> None:
    with WireClient(port) as other:
        assert other.call(ApiKey.API_VERSIONS, {})["error"] == 0


def raw(port: int) -> WireClient:
    return WireClient(port)


@pytest.mark.parametrize("payload", [
    b"\x00\x00\x00\x05hello",                       # a frame that is not msgpack
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",           # another protocol: a huge length
    LENGTH.pack(-5),                                 # negative length
    LENGTH.pack(200 * 1024 * 1024) + b"x" * 100,     # above socket.request.max.bytes
    LENGTH.pack(3) + msgpack.packb([1, 2, 3]),       # wrong envelope shape
])
def test_garbage_closes_only_that_connection(shared_node, payload):
    c = raw(shared_node.broker_port)
    c.sock.sendall(payload)
    assert c.closed_by_server()
    c.close()
    still_serves(shared_node.broker_port)


def test_truncated_frame_then_disconnect(shared_node):
    frame = encode_request(ApiKey.METADATA, 0, 1, "t", {"topics": None})
    with socket.create_connection(("127.0.0.1", shared_node.broker_port)) as s:
        s.sendall(frame[: len(frame) // 2])
    still_serves(shared_node.broker_port)


def test_wrong_versions_and_bodies_are_answered(shared_node):
    with raw(shared_node.broker_port) as c:
        body = c.call(ApiKey.METADATA, {"topics": None}, version=7)
        assert body["error"] == ErrorCode.UNSUPPORTED_VERSION and "version 7" in body["message"]
        assert c.call(999, {})["error"] == ErrorCode.UNSUPPORTED_VERSION
        assert c.call(ApiKey.PRODUCE, ["not", "a", "map"])["error"] == ErrorCode.INVALID_REQUEST
        bad = c.call(ApiKey.FETCH, {"partitions": [{"topic": 5, "partition": "x"}]})
        assert bad["error"] == ErrorCode.INVALID_REQUEST and bad["message"]
        bad = c.call(ApiKey.PRODUCE, {"partitions": [{"topic": "t", "partition": 0, "records": "text"}]})
        assert bad["error"] == ErrorCode.INVALID_REQUEST
        assert c.call(ApiKey.API_VERSIONS, {})["error"] == 0  # same connection still works


def test_bad_crc_and_missing_topic_leave_the_connection_usable(shared_node):
    with raw(shared_node.broker_port) as c:
        create_topic(c, "bad-crc")
        broken = bytearray(build_batch([(b"k", b"v", None, 1)]))
        broken[40] ^= 0x01  # inside the crc-covered part of the header
        assert produce(c, "bad-crc", 0, bytes(broken))["error"] == ErrorCode.CORRUPT_MESSAGE
        assert produce(c, "no-such-topic", 0, build_batch([(None, b"v", None, 1)]))["error"] == \
            ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        assert produce(c, "bad-crc", 0, b"\x00" * 10)["error"] == ErrorCode.CORRUPT_MESSAGE
        assert produce(c, "bad-crc", 0, build_batch([(None, b"v", None, 1)]))["base_offset"] == 0


def test_acks_zero_failure_closes_the_connection(shared_node):
    c = raw(shared_node.broker_port)
    c.send(ApiKey.PRODUCE, {"acks": 0, "partitions": [{"topic": "nowhere", "partition": 0, "records": b"x"}]})
    assert c.closed_by_server()
    c.close()
    still_serves(shared_node.broker_port)
