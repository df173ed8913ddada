"""Broker settings from a TOML file reach the running broker: retention runs on its
schedule and deletes expired segments, and auto-creation happens only when enabled."""

from __future__ import annotations

import time

from client.protocol.errors import ErrorCode
from client.protocol.record_batch import build_batch
from tests.broker_server.wire import WireClient, create_topic, list_offset, metadata, produce


def test_retention_and_auto_create_follow_the_config_file(node, tmp_path):
    config = tmp_path / "broker.toml"
    config.write_text(
        '"log.retention.check.interval.ms" = 200\n"auto.create.topics.enable" = false\n"num.partitions" = 2\n'
    )
    node.start("--config", str(config))
    with WireClient(node.broker_port) as c:
        assert create_topic(c, "expiring", segment_bytes="1024", retention_ms="60000").error_code == 0
        for i in range(12):  # timestamps in 1970: long past retention.ms
            assert produce(c, "expiring", 0, build_batch([(None, b"x" * 400, None, 1 + i)])).error_code == 0
        earliest = 0
        deadline = time.monotonic() + 15
        while earliest == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
            earliest = list_offset(c, "expiring", 0, -2).offset
        assert 0 < earliest < 12, "retention never removed the expired segments"
        assert "retention removed" in node.log()
        meta = metadata(c, ["not-made"], auto_create=True)  # auto.create.topics.enable = false
        assert meta.topics[0].error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        assert create_topic(c, "defaults", partitions=-1).num_partitions == 2  # num.partitions
