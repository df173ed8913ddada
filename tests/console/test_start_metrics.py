"""`pybroker start` serves /metrics and the console on the port it prints; a taken
--metrics-port is named before anything starts."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

from tests.console.cluster import get
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port


def _printed_console(procs: ProcessGroup, name: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"console (http://127\.0\.0\.1:\d+/)", procs.log_text(name))
        if found:
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no console address printed; log:\n{procs.log_text(name)}")


def test_start_prints_and_serves_metrics_and_console(procs: ProcessGroup, tmp_path: Path):
    broker_port, coord_port, metrics_port = free_ports(3)
    procs.start(
        "node",
        "start",
        "--data-dir",
        str(tmp_path / "d"),
        "--broker-port",
        str(broker_port),
        "--coord-port",
        str(coord_port),
        "--metrics-port",
        str(metrics_port),
    )
    wait_for_port(broker_port, timeout=30)
    url = _printed_console(procs, "node")
    assert url == f"http://127.0.0.1:{metrics_port}/"
    metrics = get(url + "metrics").decode()
    assert "kafka_controller_kafkacontroller_activecontrollercount 1.0" in metrics
    assert "kafka_server_replicamanager_underreplicatedpartitions 0.0" in metrics
    page = get(url).decode()
    assert "<title>pybroker console</title>" in page and "/static/console.js" in page
    assert "function poll()" in get(url + "static/console.js").decode()  # shipped in the package


def test_taken_metrics_port_is_named(procs: ProcessGroup, tmp_path: Path):
    broker_port, coord_port = free_ports(2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = procs.start(
            "node",
            "start",
            "--data-dir",
            str(tmp_path / "d"),
            "--broker-port",
            str(broker_port),
            "--coord-port",
            str(coord_port),
            "--metrics-port",
            str(port),
        )
        assert proc.wait(timeout=30) == 1
    assert f"metrics port {port} on 127.0.0.1 is already in use" in procs.log_text("node")
