"""Process life cycle: restart keeps everything, SIGTERM is clean, SIGKILL loses no
acknowledged fsynced record, a taken port is named, the znodes are Kafka's."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest
from kazoo.client import KazooClient

from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.record_batch import build_batch
from tests.broker_server.wire import WireClient, create_topic, fetch, fetch_request, metadata, produce, records_of
from tests.support.node import requests_in_flight
from tests.support.waiting import wait_until


def read_all(port: int, topic: str, partition: int = 0) -> list:
    out, offset = [], 0
    with WireClient(port) as c:
        for _ in range(10_000):
            part, tail = fetch(c, topic, partition, offset, max_bytes=1 << 20)
            assert part.error_code == 0, part
            got = [r for r in records_of(tail) if r.offset >= offset]
            if not got:
                return out
            out.extend(got)
            offset = got[-1].offset + 1
    raise AssertionError("fetch loop did not finish")


def test_restart_keeps_topics_and_records_and_sigterm_is_clean(node):
    node.start()
    with WireClient(node.broker_port) as c:
        create_topic(c, "keep", partitions=2, retention_ms="86400000")
        for i in range(20):
            assert produce(c, "keep", i % 2, build_batch([(None, b"v%d" % i, None, i)])).error_code == 0
    poller = WireClient(node.broker_port)  # a long poll in flight must not hold up the stop
    poller.send(ApiKey.FETCH, fetch_request([("keep", 0, 10)], max_wait_ms=60_000))
    poller.send(ApiKey.METADATA, m.MetadataRequest(topics=[]))  # counted once it waits behind the poll
    wait_until("the long poll to reach the broker", lambda: requests_in_flight(node) >= 1, timeout=10)
    started = time.monotonic()
    assert node.stop() == 0 and time.monotonic() - started < 10
    poller.close()
    assert "recovery points written" in node.log()
    node.start()
    assert "no recovery scan needed" in node.log()
    assert "opened keep-0: log start 0, log end 10, recovery point 10 (clean: no recovery scan)" in node.log()
    assert [r.value for r in read_all(node.broker_port, "keep", 0)] == [b"v%d" % i for i in range(0, 20, 2)]
    assert [r.value for r in read_all(node.broker_port, "keep", 1)] == [b"v%d" % i for i in range(1, 20, 2)]
    with WireClient(node.broker_port) as c:
        meta = metadata(c, ["keep"]).topics[0]
        assert meta.error_code == 0 and len(meta.partitions) == 2


def test_znodes_follow_kafkas_layout(node):
    node.start()
    with WireClient(node.broker_port) as c:
        create_topic(c, "zk-view", partitions=2, retention_ms="1000")
    zk = KazooClient(hosts=f"127.0.0.1:{node.coord_port}")
    zk.start(timeout=10)
    try:
        broker = json.loads(zk.get("/brokers/ids/1")[0])
        assert broker["port"] == node.broker_port and zk.get("/brokers/ids/1")[1].ephemeralOwner != 0
        topic = json.loads(zk.get("/brokers/topics/zk-view")[0])
        assert topic["partitions"] == {"0": [1], "1": [1]}
        state = json.loads(zk.get("/brokers/topics/zk-view/partitions/1/state")[0])
        assert state["leader"] == 1 and state["isr"] == [1] and state["version"] == 1
        assert json.loads(zk.get("/config/topics/zk-view")[0])["config"] == {"retention.ms": "1000"}
        assert len(json.loads(zk.get("/cluster/id")[0])["id"]) == 22
        assert json.loads(zk.get("/controller")[0])["brokerid"] == 1
    finally:
        zk.stop()
        zk.close()


@pytest.mark.parametrize("which", ["broker", "coord"])
def test_port_in_use_is_named(node, which):
    port = node.broker_port if which == "broker" else node.coord_port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "broker",
                "start",
                "--data-dir",
                str(node.data_dir),
                "--broker-port",
                str(node.broker_port),
                "--coord-port",
                str(node.coord_port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1
    assert f"{which} port {port}" in proc.stderr and "already in use" in proc.stderr
    assert not (node.data_dir / "coord").exists()  # nothing was started


def test_sigkill_during_fsynced_produce_stream_loses_no_acknowledged_record(node):
    node.start()
    with WireClient(node.broker_port) as c:
        create_topic(c, "durable", flush_messages="1")
    acked: dict[int, bytes] = {}
    stop = threading.Event()

    def produce_loop() -> None:
        with WireClient(node.broker_port) as c:
            for i in range(1_000_000):
                if stop.is_set():
                    return
                value = b"record-%d" % i
                try:
                    result = produce(c, "durable", 0, build_batch([(None, value, None, i)]))
                except (ConnectionError, OSError):
                    return
                if result.error_code == 0:
                    acked[result.base_offset] = value

    thread = threading.Thread(target=produce_loop)
    thread.start()
    deadline = time.monotonic() + 10
    while len(acked) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    node.kill()
    stop.set()
    thread.join(timeout=10)
    assert len(acked) >= 200
    node.start()
    stored = {r.offset: r.value for r in read_all(node.broker_port, "durable")}
    missing = [o for o in acked if stored.get(o) != acked[o]]
    assert not missing, f"{len(missing)} acknowledged records lost, first {missing[:5]}"
