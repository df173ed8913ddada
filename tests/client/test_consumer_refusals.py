"""Consumer refusals: a partition the topic does not have is a clear error, and close
leaves no metadata task pending behind it."""

from __future__ import annotations

import gc
import logging

import pytest

from client import Consumer, TopicPartition
from client.errors import UnknownTopicOrPartitionError
from tests.support.node import bootstrap


def test_assigning_a_partition_the_topic_lacks_names_the_partition_count(shared_node, new_topic) -> None:
    topic = new_topic(partitions=3)
    with Consumer(bootstrap(shared_node), request_timeout_ms=5000) as consumer:
        consumer.assign([TopicPartition(topic, 9)])
        with pytest.raises(UnknownTopicOrPartitionError, match="3 partitions"):
            consumer.poll(timeout_ms=5000)
        with pytest.raises(UnknownTopicOrPartitionError, match="3 partitions"):
            consumer.position(TopicPartition(topic, 9))
        with pytest.raises(UnknownTopicOrPartitionError, match="3 partitions"):
            consumer.end_offsets([TopicPartition(topic, 7)])
    with Consumer(bootstrap(shared_node), request_timeout_ms=5000) as consumer:
        consumer.assign([TopicPartition(topic, 5)])
        consumer.seek(TopicPartition(topic, 5), 0)  # a position: no offset lookup, straight to Fetch
        with pytest.raises(UnknownTopicOrPartitionError, match="3 partitions"):
            consumer.poll(timeout_ms=5000)


def test_close_leaves_no_pending_metadata_task(shared_node, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="asyncio")
    for i in range(5):
        consumer = Consumer(bootstrap(shared_node))
        # a partition without a leader keeps a metadata refresh in flight: close in the middle of it
        consumer.assign([TopicPartition(f"no-such-topic-{i}", 0)])
        try:
            consumer.poll(timeout_ms=0)
        except UnknownTopicOrPartitionError:
            pass
        consumer.close()
        del consumer
        gc.collect()
    assert "Task was destroyed but it is pending" not in caplog.text
