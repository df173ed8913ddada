"""Fixtures: a real `pybroker start` node in a temp dir, on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

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
        self.procs.start(self.name, "start", "--data-dir", str(self.data_dir), "--broker-port",
                         str(self.broker_port), "--coord-port", str(self.coord_port), *extra)
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


def _node(procs: ProcessGroup, tmp: Path) -> Node:
    broker_port, coord_port = free_ports(2)
    return Node(procs, tmp / "data", broker_port, coord_port)


@pytest.fixture
def node(procs: ProcessGroup, tmp_path: Path) -> Node:
    """A node that is not started yet (tests that restart or break it)."""
    return _node(procs, tmp_path)


@pytest.fixture(scope="module")
def shared_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One running node shared by a module's tests that do not disturb it."""
    tmp = tmp_path_factory.mktemp("node")
    group = ProcessGroup(tmp)
    try:
        n = _node(group, tmp)
        n.start()
        yield n
    finally:
        group.close()
