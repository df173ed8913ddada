"""Broker settings from a TOML file reach the running broker: retention runs on its
schedule and deletes expired segments, and auto-creation happens only when enabled."""

from __future__ import annotations

import time

from client.protocol.api import ApiKey
from client.protocol.record_batch import build_batch
from tests.broker_server.wire import WireClient, create_topic, produce


def test_retention_and_auto_create_follow_the_config_file(node, tmp_path):
    config = tmp_path / "broker.toml"
    config.write_text('"log.retention.check.interval.ms" = 200\n"auto.create.topics.enable" = true\n')
    node.start("--config", str(config))
    with WireClient(node.broker_port) as c:
        assert create_topic(c, "expiring", segment_bytes="1024", retention_ms="60000")["error"] == 0
        for i in range(12):  # timestamps in 1970: long past retention.ms
            assert produce(c, "expiring", 0, build_batch([(None, b"x" * 400, None, 1 + i)]))["error"] == 0
        earliest = 0
        deadline = time.monotonic() + 15
        while earliest == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
            body = c.call(ApiKey.LIST_OFFSETS, {"partitions": [
                {"topic": "expiring", "partition": 0, "timestamp": -2}]})
            earliest = body["partitions"][0]["offset"]
        assert 0 < earliest < 12, "retention never removed the expired segments"
        assert "retention removed" in node.log()
        meta = c.call(ApiKey.METADATA, {"topics": ["made-on-demand"], "allow_auto_create": True})
        assert meta["topics"][0]["error"] == 0 and len(meta["topics"][0]["partitions"]) == 1
        meta = c.call(ApiKey.METADATA, {"topics": ["not-asked"]})
        assert meta["topics"][0]["error"] == 3
