"""`pybroker broker start` against a separate coord process: it registers, serves, and
rejoins with a new session after its coord session expired while it was frozen."""

from __future__ import annotations

import time

from kazoo.client import KazooClient

from client.protocol.record_batch import build_batch
from tests.broker_server.wire import WireClient, create_topic, produce
from tests.support.ports import free_ports
from tests.support.procs import wait_for_port


def test_broker_rejoins_coord_after_its_session_expired(procs, tmp_path):
    coord_port, broker_port = free_ports(2)
    procs.start(
        "coord",
        "coord",
        "start",
        "--id",
        "1",
        "--data-dir",
        str(tmp_path / "coord"),
        "--client-port",
        str(coord_port),
        "--tick-ms",
        "500",
    )
    wait_for_port(coord_port, timeout=30)
    config = tmp_path / "broker.toml"
    config.write_text('"zookeeper.session.timeout.ms" = 2000\n')
    procs.start(
        "broker",
        "broker",
        "start",
        "--id",
        "1",
        "--data-dir",
        str(tmp_path / "logs"),
        "--port",
        str(broker_port),
        "--coord",
        f"127.0.0.1:{coord_port}",
        "--config",
        str(config),
    )
    wait_for_port(broker_port, timeout=30)
    with WireClient(broker_port) as c:
        assert create_topic(c, "rejoin").error_code == 0
    zk = KazooClient(hosts=f"127.0.0.1:{coord_port}")
    zk.start(timeout=10)
    try:
        first_owner = zk.exists("/brokers/ids/1").ephemeralOwner
        procs.pause("broker")
        deadline = time.monotonic() + 20
        while zk.exists("/brokers/ids/1") is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert zk.exists("/brokers/ids/1") is None, "the frozen broker's session never expired"
        procs.resume("broker")
        deadline = time.monotonic() + 20
        while zk.exists("/brokers/ids/1") is None and time.monotonic() < deadline:
            time.sleep(0.2)
        stat = zk.exists("/brokers/ids/1")
        assert stat is not None and stat.ephemeralOwner != first_owner, procs.log_text("broker")
        deadline = time.monotonic() + 20  # the line follows the registration once the rejoin finishes
        while "rejoined coord with a new session" not in procs.log_text("broker") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "rejoined coord with a new session" in procs.log_text("broker")
        with WireClient(broker_port) as c:
            assert produce(c, "rejoin", 0, build_batch([(None, b"after", None, 1)])).error_code == 0
    finally:
        zk.stop()
        zk.close()
