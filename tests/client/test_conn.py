"""BrokerConnection over real loopback sockets, with a scripted peer speaking Kafka's frames.

The peer is a plain asyncio server in the test: it answers the ApiVersions handshake from a
table the test gives, then answers the other requests as the test says (in order, out of
order, never, garbage, or by hanging up), to check what the connection does with each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from client.conn import BrokerConnection
from client.errors import BrokerConnectionError, ClientTimeoutError, UnsupportedVersionError
from client.protocol import messages as m
from client.protocol.api import SUPPORTED_VERSIONS, ApiKey
from client.protocol.frames import LENGTH, FrameDecoder
from client.protocol.kafka_frames import RequestHeader, decode_request, encode_response
from tests.support.ports import free_port

Script = Callable[[list, asyncio.StreamWriter], Awaitable[None]]
Table = dict[int, tuple[int, int]]


def versions_answer(table: Table, error_code: int = 0) -> m.ApiVersionsResponse:
    return m.ApiVersionsResponse(
        error_code=error_code,
        api_keys=[
            m.ApiVersionsResponse.ApiVersion(api_key=k, min_version=lo, max_version=hi) for k, (lo, hi) in table.items()
        ],
    )


async def serve(
    script: Script, expect: int, table: Table | None = None, handshakes: list[RequestHeader] | None = None
) -> tuple[asyncio.AbstractServer, int]:
    """A peer that answers ApiVersions from `table` (error 35 for a version above the table's),
    collects `expect` other requests as (header, body), then runs `script(requests, writer)`.
    The ApiVersions headers it saw go to `handshakes`."""
    table = {int(k): v for k, v in (SUPPORTED_VERSIONS if table is None else table).items()}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder, requests = FrameDecoder(), []
        while len(requests) < expect and (data := await reader.read(65536)):
            decoder.feed(data)
            for frame in decoder.frames():
                header, body = decode_request(frame)
                if header.api_key != ApiKey.API_VERSIONS:
                    requests.append((header, body))
                    continue
                if handshakes is not None:
                    handshakes.append(header)
                if header.api_version > table[ApiKey.API_VERSIONS][1]:
                    writer.write(encode_response(header, versions_answer(table, 35), version=0))
                else:
                    writer.write(encode_response(header, versions_answer(table)))
        await script(requests, writer)

    port = free_port()
    return await asyncio.start_server(handle, "127.0.0.1", port), port


def metadata_answer(cluster_id: str) -> m.MetadataResponse:
    return m.MetadataResponse(
        cluster_id=cluster_id,
        controller_id=1,
        brokers=[m.MetadataResponse.MetadataResponseBroker(node_id=1, host="h", port=9092)],
    )


async def test_pipelined_requests_get_their_own_answers() -> None:
    async def answer_in_order(requests, writer):
        for header, _body in requests[1:]:  # the first was acks=0: a broker sends nothing back
            writer.write(encode_response(header, metadata_answer(f"c{header.correlation_id}")))
        await writer.drain()

    server, port = await serve(answer_in_order, expect=3)
    async with server:
        conn = await BrokerConnection.open("127.0.0.1", port)
        produce = m.ProduceRequest(
            acks=0,
            timeout_ms=100,
            topic_data=[
                m.ProduceRequest.TopicProduceData(
                    name="t", partition_data=[m.ProduceRequest.PartitionProduceData(index=0, records=b"")]
                )
            ],
        )
        assert conn.send(ApiKey.PRODUCE, produce, expect_response=False) is None  # acks=0: no answer
        futures = [conn.send(ApiKey.METADATA, m.MetadataRequest(topics=[])) for _ in (1, 2)]
        responses = await asyncio.wait_for(asyncio.gather(*futures), 5)
        assert [r.cluster_id for r in responses] == ["c2", "c3"]  # 0 was ApiVersions, 1 Produce
        assert responses[0].brokers[0].port == 9092
        conn.close()


async def test_requests_go_out_at_the_highest_version_both_sides_speak() -> None:
    seen: list = []

    async def record(requests, writer):
        seen.extend(requests)
        for header, _ in requests:
            writer.write(encode_response(header, metadata_answer("x")))
        await writer.drain()

    table = {**SUPPORTED_VERSIONS, ApiKey.METADATA: (0, 7), ApiKey.FETCH: (0, 16)}
    server, port = await serve(record, expect=1, table=table)
    async with server:
        conn = await BrokerConnection.open("127.0.0.1", port)
        assert conn.version_for(ApiKey.METADATA) == 7  # the broker's limit
        assert conn.version_for(ApiKey.FETCH) == SUPPORTED_VERSIONS[ApiKey.FETCH][1]  # ours
        await asyncio.wait_for(conn.request(ApiKey.METADATA, m.MetadataRequest(topics=None)), 5)
        assert seen[0][0].api_version == 7
        assert seen[0][0].client_id == "pybroker-client"
        conn.close()


async def test_an_older_broker_gets_the_handshake_again_at_a_version_it_serves() -> None:
    handshakes: list[RequestHeader] = []

    async def nothing(requests, writer):
        await asyncio.sleep(0)

    table = {ApiKey.API_VERSIONS: (0, 2), ApiKey.METADATA: (0, 9), ApiKey.PRODUCE: (0, 2)}
    server, port = await serve(nothing, expect=1, table=table, handshakes=handshakes)
    async with server:
        conn = await asyncio.wait_for(BrokerConnection.open("127.0.0.1", port), 5)
        assert [h.api_version for h in handshakes] == [3, 2]
        assert conn.version_for(ApiKey.METADATA) == 9
        with pytest.raises(UnsupportedVersionError, match="Produce"):  # it speaks only pre-v2 formats
            conn.version_for(ApiKey.PRODUCE)
        with pytest.raises(UnsupportedVersionError, match="nothing of Fetch"):
            conn.version_for(ApiKey.FETCH)
        conn.close()


async def test_an_answer_out_of_order_closes_the_connection() -> None:
    async def answer_backwards(requests, writer):
        for header, _ in reversed(requests):
            writer.write(encode_response(header, metadata_answer("x")))
        await writer.drain()

    server, port = await serve(answer_backwards, expect=2)
    async with server:
        conn = await BrokerConnection.open("127.0.0.1", port)
        futures = [conn.send(ApiKey.METADATA, m.MetadataRequest()) for _ in range(2)]
        for fut in futures:
            with pytest.raises(BrokerConnectionError, match="correlation id"):
                await asyncio.wait_for(fut, 5)
        assert not conn.connected


async def test_an_answer_that_does_not_parse_closes_the_connection() -> None:
    async def garbage(requests, writer):
        header, _ = requests[0]
        payload = LENGTH.pack(header.correlation_id) + b"\x00\x00\x00\x05xy"  # a 5-byte string cut short
        writer.write(LENGTH.pack(len(payload)) + payload)
        await writer.drain()

    server, port = await serve(garbage, expect=1)
    async with server:
        conn = await BrokerConnection.open("127.0.0.1", port)
        with pytest.raises(BrokerConnectionError, match="bad response"):
            await asyncio.wait_for(conn.request(ApiKey.METADATA, m.MetadataRequest(), api_version=1), 5)
        assert not conn.connected


async def test_a_peer_hanging_up_fails_every_waiting_request() -> None:
    async def hang_up(requests, writer):
        writer.close()

    server, port = await serve(hang_up, expect=2)
    async with server:
        conn = await BrokerConnection.open("127.0.0.1", port)
        futures = [conn.send(ApiKey.METADATA, m.MetadataRequest()) for _ in range(2)]
        for fut in futures:
            with pytest.raises(BrokerConnectionError, match="lost"):
                await asyncio.wait_for(fut, 5)
        with pytest.raises(BrokerConnectionError, match="closed"):
            conn.send(ApiKey.METADATA, m.MetadataRequest())


async def test_a_peer_that_hangs_up_on_the_handshake_is_a_connection_error() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.close()

    port = free_port()
    async with await asyncio.start_server(handle, "127.0.0.1", port):
        with pytest.raises(BrokerConnectionError, match="lost"):
            await asyncio.wait_for(BrokerConnection.open("127.0.0.1", port), 5)


async def test_a_silent_peer_times_out() -> None:
    async def say_nothing(requests, writer):
        await asyncio.sleep(10)

    server, port = await serve(say_nothing, expect=1)
    async with server:
        conn = await BrokerConnection.open("127.0.0.1", port, request_timeout_ms=200)
        with pytest.raises(ClientTimeoutError, match="no answer"):
            await asyncio.wait_for(conn.request(ApiKey.METADATA, m.MetadataRequest()), 5)
        assert not conn.connected


async def test_nothing_listening_is_a_clear_error() -> None:
    port = free_port()
    with pytest.raises(BrokerConnectionError, match=f"cannot connect to broker 127.0.0.1:{port}"):
        await BrokerConnection.open("127.0.0.1", port)
