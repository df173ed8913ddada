"""Per-request timeouts on one pipelined connection: a request queued behind a longer one
(the group coordinator's JoinGroup) is not timed out while that one may still be answered.
(A silent peer timing out is tests/client/test_conn.py's.)"""

from __future__ import annotations

import asyncio

from client.conn import BrokerConnection
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.kafka_frames import encode_response
from tests.client.test_conn import serve


async def test_a_request_behind_a_long_one_gets_its_time_after_it() -> None:
    answers = {
        ApiKey.JOIN_GROUP: m.JoinGroupResponse(member_id="m1"),
        ApiKey.OFFSET_COMMIT: m.OffsetCommitResponse(throttle_time_ms=2),
    }

    async def answer_late(requests, writer):
        await asyncio.sleep(0.6)  # past the short timeout of the second request
        for header, _ in requests:
            writer.write(encode_response(header, answers[header.api_key]))
        await writer.drain()
        await asyncio.sleep(1)

    server, port = await serve(answer_late, expect=2)
    async with server:
        conn = await BrokerConnection.open("127.0.0.1", port, request_timeout_ms=300)
        join = conn.send(ApiKey.JOIN_GROUP, m.JoinGroupRequest(group_id="g", protocol_type="consumer"), timeout_ms=5000)
        commit = conn.send(ApiKey.OFFSET_COMMIT, m.OffsetCommitRequest(group_id="g"))
        join_answer, commit_answer = await asyncio.wait_for(asyncio.gather(join, commit), 5)
        assert (join_answer.member_id, commit_answer.throttle_time_ms) == ("m1", 2)
        conn.close()
