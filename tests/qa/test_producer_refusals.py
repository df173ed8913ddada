"""Producer refusals seen in QA.

The sync Producer hands records to the asyncio producer one at a time; a record for a
topic without metadata waits `max_block_ms` there, so N such records (say, sent while the
topic was being deleted, or a typo in a loop) fail one after another, N x max_block_ms in
all (N minutes at the default 60 s), and a record for a healthy topic queued behind them
waits as long. Kafka fails each within max_block_ms of its send().

Wrong argument types given to Producer.send must be refused with an error that says
what was expected (bytes or None for key and value), not an internal TypeError from deep
in the encoder ("object of type 'int' has no len()", "'<' not supported ...").
"""

from __future__ import annotations

import time

import pytest

from client import Producer
from client.errors import UnknownTopicOrPartitionError
from tests.support.node import bootstrap


def test_records_for_a_missing_topic_fail_within_max_block_ms(shared_node, new_topic):
    good = new_topic()
    with Producer(bootstrap(shared_node), max_block_ms=1000) as producer:
        producer.send(good, b"warm").result(timeout=30)
        start = time.monotonic()
        missing = [producer.send("qa-no-such-topic", b"x") for _ in range(8)]
        healthy = producer.send(good, b"behind them")
        for f in missing:
            with pytest.raises(UnknownTopicOrPartitionError):
                f.result(timeout=60)
        healthy.result(timeout=60)
        # each failure is due max_block_ms (1 s) after its send; allow a loaded machine 4 s
        assert time.monotonic() - start < 4.0


def test_wrong_types_are_refused_with_a_clear_message(shared_node, new_topic):
    topic = new_topic()
    with Producer(bootstrap(shared_node), max_block_ms=2000) as producer:
        for kwargs in ({"value": 12345}, {"value": b"v", "key": 5}):
            with pytest.raises(TypeError, match="bytes"):
                producer.send(topic, **kwargs).result(timeout=20)
        with pytest.raises((TypeError, ValueError), match="topic"):
            producer.send(None, b"v").result(timeout=20)
