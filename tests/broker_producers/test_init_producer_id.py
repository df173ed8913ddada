"""InitProducerId and idempotent Produce against a live `pybroker start` node, over raw
sockets: ids claimed in blocks through /latest_producer_id_block (Kafka's JSON), racing
claims get distinct blocks, and the produce path's answers (duplicate, gap, unknown)."""

from __future__ import annotations

import asyncio
import json
from itertools import pairwise

import pytest

from broker.producers.id_block import BLOCK_SIZE, ZNODE
from broker.server.producer_ids import claim_block
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.record_batch import build_batch
from coord.client import CoordClient
from tests.broker_server.wire import WireClient, create_topic, fetch, produce, records_of


def init(transactional_id: str | None = None) -> m.InitProducerIdRequest:
    return m.InitProducerIdRequest(
        transactional_id=transactional_id, transaction_timeout_ms=60000, producer_id=-1, producer_epoch=-1
    )


@pytest.fixture
def client(shared_node):
    with WireClient(shared_node.broker_port) as c:
        yield c


def idempotent(pid: int, seq: int, values: list[bytes], epoch: int = 0) -> bytes:
    return build_batch(
        [(None, v, None, 1000) for v in values], producer_id=pid, producer_epoch=epoch, base_sequence=seq
    )


def test_each_call_gets_a_fresh_id_from_a_block_claimed_in_coord(client, shared_node) -> None:
    answers = [client.call(ApiKey.INIT_PRODUCER_ID, init()) for _ in range(3)]
    assert all(a.error_code == 0 and a.producer_epoch == 0 for a in answers)
    ids = [a.producer_id for a in answers]
    assert len(set(ids)) == 3

    async def read_znode() -> dict:
        async with CoordClient(f"127.0.0.1:{shared_node.coord_port}") as coord:
            data, _ = await coord.get(ZNODE)
        return json.loads(data)

    doc = asyncio.run(read_znode())
    assert doc["version"] == 1 and doc["broker"] == 1
    assert int(doc["block_start"]) <= min(ids) and max(ids) <= int(doc["block_end"])
    assert int(doc["block_end"]) - int(doc["block_start"]) + 1 == BLOCK_SIZE
    assert isinstance(doc["block_start"], str)  # Kafka writes them as strings


def test_transactional_ids_are_refused(client) -> None:
    answer = client.call(ApiKey.INIT_PRODUCER_ID, init("tx"))
    assert answer.error_code == ErrorCode.INVALID_REQUEST


def test_racing_claims_get_distinct_blocks(shared_node) -> None:
    async def race() -> list:
        async with CoordClient(f"127.0.0.1:{shared_node.coord_port}") as coord:
            return await asyncio.gather(*(claim_block(coord, broker_id) for broker_id in range(10, 16)))

    blocks = asyncio.run(race())
    starts = sorted(b.block_start for b in blocks)
    assert len(set(starts)) == 6 and all(b - a == BLOCK_SIZE for a, b in pairwise(starts))


def test_idempotent_produce_answers_on_the_wire(client) -> None:
    assert create_topic(client, "idem").error_code == 0
    pid = client.call(ApiKey.INIT_PRODUCER_ID, init()).producer_id
    first = produce(client, "idem", 0, idempotent(pid, 0, [b"a", b"b"]), acks=-1)
    assert (first.error_code, first.base_offset) == (0, 0)
    produce(client, "idem", 0, idempotent(pid, 2, [b"c"]), acks=-1)
    retry = produce(client, "idem", 0, idempotent(pid, 0, [b"a", b"b"]), acks=-1)
    assert (retry.error_code, retry.base_offset) == (0, 0)  # the original offset, not written again
    gap = produce(client, "idem", 0, idempotent(pid, 9, [b"z"]))
    assert gap.error_code == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER and "expected 3" in gap.error_message
    fenced = produce(client, "idem", 0, idempotent(pid, 3, [b"z"], epoch=-1))
    assert fenced.error_code == ErrorCode.INVALID_RECORD
    unknown = produce(client, "idem", 0, idempotent(pid + 1, 5, [b"z"]))
    assert unknown.error_code == ErrorCode.UNKNOWN_PRODUCER_ID
    _, tail = fetch(client, "idem", 0, 0)
    assert [r.value for r in records_of(tail)] == [b"a", b"b", b"c"]
