"""One real `pybroker start` node in a temp dir, on free loopback ports (fixtures `node` and
`shared_node` in tests/conftest.py)."""

from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port


@dataclass
class Node:
    procs: ProcessGroup
    data_dir: Path
    broker_port: int
    coord_port: int
    name: str = "node"
    metrics_port: int = 0  # 0: pybroker start's default (9404 or any free port)

    def start(self, *extra: str) -> None:
        self.procs.start(
            self.name,
            "start",
            "--data-dir",
            str(self.data_dir),
            "--broker-port",
            str(self.broker_port),
            "--coord-port",
            str(self.coord_port),
            *(("--metrics-port", str(self.metrics_port)) if self.metrics_port else ()),
            *extra,
        )
        try:
            wait_for_port(self.broker_port, timeout=30)
        except TimeoutError:
            raise AssertionError(f"node did not start; its log:\n{self.log()}") from None

    def stop(self) -> int:
        return self.procs.stop(self.name)

    def kill(self) -> None:
        self.procs.kill(self.name)

    def log(self) -> str:
        return self.procs.log_text(self.name)


def new_node(procs: ProcessGroup, tmp: Path) -> Node:
    """A node on fresh ports with its data under `tmp`, not started yet."""
    broker_port, coord_port, metrics_port = free_ports(3)
    return Node(procs, tmp / "data", broker_port, coord_port, metrics_port=metrics_port)


def requests_in_flight(node: Node) -> float:
    """Requests the broker has read that wait behind another request's answer on their
    connection (its request-queue gauge). A test sends a request behind a long poll and waits
    for this to reach 1: then the poll has reached the broker, before the test acts."""
    assert node.metrics_port, "the node was built without a known metrics port"
    with urllib.request.urlopen(f"http://127.0.0.1:{node.metrics_port}/metrics", timeout=5) as answer:
        page = answer.read().decode()
    found = re.search(r"^kafka_network_requestchannel_requestqueuesize (\S+)$", page, re.M)
    assert found, "no request-queue gauge on /metrics"
    return float(found.group(1))


def bootstrap(node: Node) -> str:
    return f"127.0.0.1:{node.broker_port}"
