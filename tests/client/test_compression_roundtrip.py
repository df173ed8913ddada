"""Our producer and consumer through a real node with each of Kafka's codecs, and the
leader's validator as the producer sees it."""

from __future__ import annotations

import asyncio

import pytest

from client import AsyncConsumer, AsyncProducer, TopicPartition
from client.protocol.errors import BrokerError, ErrorCode
from tests.support.node import bootstrap


@pytest.mark.parametrize("compression", ["none", "gzip", "snappy", "lz4", "zstd"])
async def test_each_codec_round_trips_keys_values_and_headers(shared_node, new_topic, compression) -> None:
    bs, topic = bootstrap(shared_node), new_topic()
    sent = [
        (b"k%d" % i, b"value %d " % i * (i % 7), [("h", b"x"), ("null", None), ("ключ", b"")]) for i in range(300)
    ] + [(None, None, None)]
    async with AsyncProducer(bs, compression=compression, linger_ms=20) as producer:
        futures = [
            await producer.send(topic, v, key=k, headers=h, timestamp_ms=5_000 + i) for i, (k, v, h) in enumerate(sent)
        ]
        await producer.flush()
    assert [f.result().offset for f in futures] == list(range(len(sent)))
    async with AsyncConsumer(bs, auto_offset_reset="earliest") as consumer:
        consumer.assign([TopicPartition(topic, 0)])
        got: list = []
        async with asyncio.timeout(20):
            while len(got) < len(sent):
                got.extend(await consumer.poll(timeout_ms=500))
    assert [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in got] == [
        (i, 5_000 + i, k, v, h or []) for i, (k, v, h) in enumerate(sent)
    ]


async def test_a_keyless_record_on_a_compacted_topic_fails_at_once(shared_node, new_topic) -> None:
    """INVALID_RECORD is not retriable: the send fails now, not at delivery_timeout_ms."""
    bs, topic = bootstrap(shared_node), new_topic(configs={"cleanup.policy": "compact"})
    async with AsyncProducer(bs, delivery_timeout_ms=60_000) as producer:
        assert (await producer.send_and_wait(topic, b"v", key=b"k")).offset == 0
        with pytest.raises(BrokerError, match="without a key") as refused:
            async with asyncio.timeout(10):
                await producer.send_and_wait(topic, b"v")
    assert refused.value.code == ErrorCode.INVALID_RECORD
