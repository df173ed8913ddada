"""`__consumer_offsets` is compacted on a running node and still loads the latest commits.

The node gets tiny offsets segments and a fast cleaner; a group commits the same two
partitions 300 times; the cleaner must shrink the closed segments to about one record per
key, and after a SIGKILL and restart the group's offsets are the last ones committed."""

from __future__ import annotations

import asyncio

from client import AsyncAdmin, AsyncConsumer, NewTopic, TopicPartition
from client.protocol.record_batch import decode_batch, iter_batches
from tests.client_groups.conftest import start_group_node
from tests.support.node import Node

COMPACTING = (
    '"offsets.topic.segment.bytes" = 2048\n"log.cleaner.backoff.ms" = 200\n'
    '"log.flush.scheduler.interval.ms" = 100\n"offsets.topic.num.partitions" = 1\n'
)


def offsets_records(node: Node) -> int:
    total = 0
    for path in sorted((node.data_dir / "logs" / "__consumer_offsets-0").glob("*.log")):
        data = path.read_bytes()
        pos = 0
        for header in iter_batches(data):
            total += len(decode_batch(data, pos))
            pos += header.size
    return total


async def test_the_offsets_topic_is_compacted_and_reloads_the_latest_commits(group_node) -> None:
    (group_node.data_dir.parent / "broker.toml").write_text(
        (group_node.data_dir.parent / "broker.toml").read_text() + COMPACTING
    )
    start_group_node(group_node)
    bs = f"127.0.0.1:{group_node.broker_port}"
    async with AsyncAdmin(bs) as admin:
        await admin.create_topics([NewTopic("kept", 2)])
    tps = [TopicPartition("kept", 0), TopicPartition("kept", 1)]
    async with AsyncConsumer(bs, group_id="compacted", enable_auto_commit=False) as consumer:
        consumer.assign(tps)
        for i in range(300):
            await consumer.commit({tps[0]: i, tps[1]: 1000 + i})
    async with asyncio.timeout(60):
        while offsets_records(group_node) > 100:  # 600 written, about 2 per segment left
            await asyncio.sleep(0.2)
    group_node.kill()
    start_group_node(group_node)
    async with AsyncAdmin(bs) as admin:
        assert await admin.list_group_offsets("compacted") == {tps[0]: 299, tps[1]: 1299}
