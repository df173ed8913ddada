"""What the producer makes of a Produce answer, against a scripted peer speaking Kafka's frames.

The peer answers ApiVersions, Metadata (one broker: itself, leading t-0) and InitProducerId,
and answers Produce as the test says, so the answers a pybroker broker rarely gives (a v8
refusal naming records, an idempotent producer's duplicate) are checked without one.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

import pytest

from client import AsyncProducer
from client.errors import InvalidRecordError
from client.protocol import messages as m
from client.protocol.api import SUPPORTED_VERSIONS, ApiKey
from client.protocol.kafka_frames import decode_request, encode_response
from tests.client.test_conn import versions_answer
from tests.support.ports import free_port

R = m.ProduceResponse
ProduceAnswer = Callable[[m.ProduceRequest], R]


def partition_answer(request: m.ProduceRequest, **fields) -> R:
    """An answer for every partition of `request`, each with `fields`."""
    return R(
        responses=[
            R.TopicProduceResponse(
                name=t.name,
                partition_responses=[R.PartitionProduceResponse(index=p.index, **fields) for p in t.partition_data],
            )
            for t in request.topic_data
        ]
    )


async def peer(port: int, on_produce: ProduceAnswer, seen: list) -> asyncio.AbstractServer:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                size = struct.unpack(">i", await reader.readexactly(4))[0]
                header, body = decode_request(await reader.readexactly(size))
            except asyncio.IncompleteReadError:
                return
            seen.append((header, body))
            if header.api_key == ApiKey.API_VERSIONS:
                answer = versions_answer({int(k): v for k, v in SUPPORTED_VERSIONS.items()})
            elif header.api_key == ApiKey.METADATA:
                answer = m.MetadataResponse(
                    controller_id=1,
                    brokers=[m.MetadataResponse.MetadataResponseBroker(node_id=1, host="127.0.0.1", port=port)],
                    topics=[
                        m.MetadataResponse.MetadataResponseTopic(
                            name="t",
                            partitions=[
                                m.MetadataResponse.MetadataResponsePartition(
                                    partition_index=0, leader_id=1, replica_nodes=[1], isr_nodes=[1]
                                )
                            ],
                        )
                    ],
                )
            elif header.api_key == ApiKey.INIT_PRODUCER_ID:
                answer = m.InitProducerIdResponse(producer_id=77, producer_epoch=3)
            else:
                assert header.api_key == ApiKey.PRODUCE
                answer = on_produce(body)
            writer.write(encode_response(header, answer))

    return await asyncio.start_server(handle, "127.0.0.1", port)


async def test_a_refusal_naming_records_reaches_the_send_future_with_the_brokers_words() -> None:
    port, seen = free_port(), []

    def refuse(request):
        return partition_answer(
            request,
            error_code=87,
            base_offset=-1,
            error_message="compacted topic needs keys",
            record_errors=[R.BatchIndexAndErrorMessage(batch_index=1, batch_index_error_message="no key")],
        )

    async with await peer(port, refuse, seen):
        async with AsyncProducer(f"127.0.0.1:{port}", acks=1, linger_ms=50) as producer:
            futures = [await producer.send("t", b"v", key=key, partition=0) for key in (b"k", None)]
            for fut in futures:
                with pytest.raises(InvalidRecordError, match="compacted topic needs keys; record 1: no key"):
                    await asyncio.wait_for(fut, 10)
    produce = [(h, b) for h, b in seen if h.api_key == ApiKey.PRODUCE]
    assert produce[0][0].api_version == SUPPORTED_VERSIONS[ApiKey.PRODUCE][1]
    assert (produce[0][1].acks, produce[0][1].topic_data[0].name) == (1, "t")


async def test_an_idempotent_batch_carries_the_producer_id_and_a_duplicate_answer_counts_as_written() -> None:
    port, seen = free_port(), []
    answers = iter(
        [{"error_code": 0, "base_offset": 40, "log_append_time_ms": 1234}, {"error_code": 46, "base_offset": -1}]
    )  # DUPLICATE_SEQUENCE_NUMBER

    async with await peer(port, lambda request: partition_answer(request, **next(answers)), seen):
        async with AsyncProducer(f"127.0.0.1:{port}", linger_ms=0) as producer:
            first = await asyncio.wait_for(await producer.send("t", b"a", partition=0), 10)
            second = await asyncio.wait_for(await producer.send("t", b"b", partition=0), 10)
    assert (first.offset, first.timestamp) == (40, 1234)  # the log append time the broker stamped
    assert second.offset == -1  # written before; the duplicate answer has no offset
    batches = [bytes(b.topic_data[0].partition_data[0].records) for h, b in seen if h.api_key == ApiKey.PRODUCE]
    producer_ids = [struct.unpack_from(">qh", batch, 43) for batch in batches]  # Kafka's v2 header layout
    assert producer_ids == [(77, 3), (77, 3)]
    assert [h.api_key for h, _ in seen if h.api_key == ApiKey.INIT_PRODUCER_ID] == [ApiKey.INIT_PRODUCER_ID]
