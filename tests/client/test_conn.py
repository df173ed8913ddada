"""BrokerConnection over real loopback sockets, with a scripted peer speaking our frames.

The peer is a plain asyncio server in the test that answers as the test says (in order,
out of order, never, or by hanging up), to check what the connection does with each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from client.conn import BrokerConnection
from client.errors import BrokerConnectionError, ClientTimeoutError
from client.protocol.api import ApiKey
from client.protocol.frames import FrameDecoder, decode_request, encode_response
from tests.support.ports import free_port

Script = Callable[[list, asyncio.StreamWriter], Awaitable[None]]


async def serve(script: Script, expect: int) -> tuple[asyncio.AbstractServer, int]:
    """A peer that collects `expect` requests, then runs `script(requests, writer)`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder, requests = FrameDecoder(), []
        while len(requests) < expect and (data := await reader.read(65536)):
            decoder.feed(data)
            requests.extend(decode_request(f) for f in decoder.frames())
        await script(requests, writer)

    port = free_port()
    return await asyncio.start_server(handle, "127.0.0.1", port), port


async def test_pipelined_requests_get_their_own_answers() -> None:
    async def answer_in_order(requests, writer):
        for r in requests[1:]:  # the first was acks=0: a broker sends nothing back
            writer.write(encode_response(r.correlation_id, {"echo": r.body["n"]}, b"tail%d" % r.body["n"]))
        await writer.drain()

    server, port = await serve(answer_in_order, expect=3)
    async with server:
        conn = await BrokerConnection.open("127.0.0.1", port)
        assert conn.send(ApiKey.PRODUCE, {"n": 0}, expect_response=False) is None  # acks=0: no answer
        futures = [conn.send(ApiKey.METADATA, {"n": n}) for n in (1, 2)]
        responses = await asyncio.wait_for(asyncio.gather(*futures), 5)
        assert [(r.body["echo"], bytes(r.tail)) for r in responses] == [(1, b"tail1"), (2, b"tail2")]
        conn.close()


async def test_an_answer_out_of_order_closes_the_connection() -> None:
    async def answer_backwards(requests, writer):
        for r in reversed(requests):
            writer.write(encode_response(r.correlation_id, {}))
        await writer.drain()

    server, port = await serve(answer_backwards, expect=2)
    async with server:
        conn = await BrokerConnection.open("127.0.0.1", port)
        futures = [conn.send(ApiKey.METADATA, {}) for _ in range(2)]
        for fut in futures:
            with pytest.raises(BrokerConnectionError, match="correlation id"):
                await asyncio.wait_for(fut, 5)
        assert not conn.connected


async def test_a_peer_hanging_up_fails_every_waiting_request() -> None:
    async def hang_up(requests, writer):
        writer.close()

    server, port = await serve(hang_up, expect=2)
    async with server:
        conn = await BrokerConnection.open("127.0.0.1", port)
        futures = [conn.send(ApiKey.METADATA, {}) for _ in range(2)]
        for fut in futures:
            with pytest.raises(BrokerConnectionError, match="lost"):
                await asyncio.wait_for(fut, 5)
        with pytest.raises(BrokerConnectionError, match="closed"):
            conn.send(ApiKey.METADATA, {})


async def test_a_silent_peer_times_out() -> None:
    async def say_nothing(requests, writer):
        await asyncio.sleep(10)

    server, port = await serve(say_nothing, expect=1)
    async with server:
        conn = await BrokerConnection.open("127.0.0.1", port, request_timeout_ms=200)
        with pytest.raises(ClientTimeoutError, match="no answer"):
            await asyncio.wait_for(conn.request(ApiKey.METADATA, {}), 5)
        assert not conn.connected


async def test_nothing_listening_is_a_clear_error() -> None:
    port = free_port()
    with pytest.raises(BrokerConnectionError, match=f"cannot connect to broker 127.0.0.1:{port}"):
        await BrokerConnection.open("127.0.0.1", port)
