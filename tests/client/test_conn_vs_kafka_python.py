"""The connection against a peer we did not write: kafka-python 3's message classes read our
request frames (length, header v1/v2, body) and write the answers (header v0/v1, body).

The peer is a plain asyncio server whose every byte in and out goes through kafka-python, so
a header or framing mistake that our codec and our connection share cannot pass unseen.
"""

from __future__ import annotations

import asyncio
import struct

import pytest

from client.conn import SOFTWARE_NAME, BrokerConnection
from client.protocol import messages as m
from client.protocol.api import SUPPORTED_VERSIONS, ApiKey
from tests.support.ports import free_port

kp = pytest.importorskip("kafka.protocol.metadata", reason="kafka-python 3 is not installed")


async def _kafka_python_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: list) -> None:
    """Answer ApiVersions (with our served table) and Metadata v12, each decoded and encoded by kafka-python."""
    while True:
        try:
            size = struct.unpack(">i", await reader.readexactly(4))[0]
            frame = await reader.readexactly(size)
        except asyncio.IncompleteReadError:
            return
        api_key, version = struct.unpack_from(">hh", frame)
        if api_key == ApiKey.API_VERSIONS:
            request = kp.ApiVersionsRequest.decode(frame, version=version, header=True)
            answer = kp.ApiVersionsResponse[version](
                error_code=0,
                throttle_time_ms=0,
                api_keys=[(int(k), lo, hi) for k, (lo, hi) in SUPPORTED_VERSIONS.items()],
            )
        else:
            assert api_key == ApiKey.METADATA and version == 12
            request = kp.MetadataRequest.decode(frame, version=version, header=True)
            answer = kp.MetadataResponse[12](
                throttle_time_ms=0,
                cluster_id="kp",
                controller_id=7,
                brokers=[(7, "kafka-python.invalid", 9092, None)],
                topics=[],
            )
        seen.append(request)
        answer.with_header(correlation_id=request.header.correlation_id)
        writer.write(answer.encode(header=True, framed=True))
        await writer.drain()


async def test_kafka_python_reads_our_requests_and_we_read_its_answers() -> None:
    seen: list = []
    port = free_port()
    server = await asyncio.start_server(lambda r, w: _kafka_python_peer(r, w, seen), "127.0.0.1", port)
    async with server:
        conn = await asyncio.wait_for(BrokerConnection.open("127.0.0.1", port, client_id="judge"), 5)
        request = m.MetadataRequest(
            topics=[m.MetadataRequest.MetadataRequestTopic(name="t1")], allow_auto_topic_creation=False
        )
        answer = await asyncio.wait_for(conn.request(ApiKey.METADATA, request), 5)
        conn.close()
    handshake, metadata = seen
    assert (handshake.header.request_api_version, handshake.header.client_id) == (3, "judge")
    assert handshake.client_software_name == SOFTWARE_NAME
    assert metadata.header.request_api_version == 12 and metadata.header.client_id == "judge"
    assert [t.name for t in metadata.topics] == ["t1"] and metadata.allow_auto_topic_creation is False
    assert (answer.cluster_id, answer.controller_id) == ("kp", 7)
    assert [(b.node_id, b.host, b.port) for b in answer.brokers] == [(7, "kafka-python.invalid", 9092)]
