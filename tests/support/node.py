"""One real `pybroker start` node in a temp dir, on free loopback ports (fixtures `node` and
`shared_node` in tests/conftest.py)."""

from __future__ import annotations

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
    broker_port, coord_port = free_ports(2)
    return Node(procs, tmp / "data", broker_port, coord_port)


def bootstrap(node: Node) -> str:
    return f"127.0.0.1:{node.broker_port}"
