"""Fixtures: a real node whose group coordinator starts rebalances at once, and member processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.node import Node
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup

# No initial rebalance delay: members join one by one and each join rebalances, which is
# exactly the churn these tests want to survive, and nobody waits 3 s for nothing.
NODE_CONFIG = '"group.initial.rebalance.delay.ms" = 0\n'


@pytest.fixture
def group_node(procs: ProcessGroup, tmp_path: Path) -> Node:
    """A node (not started yet) configured by NODE_CONFIG; start it with `start_group_node`."""
    broker_port, coord_port = free_ports(2)
    (tmp_path / "broker.toml").write_text(NODE_CONFIG)
    return Node(procs, tmp_path / "data", broker_port, coord_port)


def start_group_node(node: Node) -> None:
    node.start("--config", str(node.data_dir.parent / "broker.toml"))


@dataclass
class Members:
    """Member processes (tests.client_groups.member), registered with the test's ProcessGroup
    so they are killed whatever happens."""

    procs: ProcessGroup
    bootstrap: str
    directory: Path

    def out(self, name: str) -> Path:
        return self.directory / f"{name}.out"

    def start(self, name: str, group: str, topic: str, *extra: str) -> None:
        log = open(self.directory / f"{name}.log", "ab")  # noqa: SIM115 - the member writes to it until stopped
        self.procs.procs[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.client_groups.member",
                self.bootstrap,
                group,
                topic,
                str(self.out(name)),
                "--name",
                name,
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    def lines(self, name: str) -> list[list[str]]:
        path = self.out(name)
        if not path.exists():
            return []
        return [line.split(" ", 3) for line in path.read_text().splitlines() if line]

    def log(self, name: str) -> str:
        return (self.directory / f"{name}.log").read_text(errors="replace")


@pytest.fixture
def members(procs: ProcessGroup, group_node: Node, tmp_path: Path) -> Iterator[Members]:
    yield Members(procs, f"127.0.0.1:{group_node.broker_port}", tmp_path)


@pytest.fixture(scope="module")
def shared_group_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One running node (NODE_CONFIG) shared by a module's tests, each using its own group."""
    tmp = tmp_path_factory.mktemp("groupnode")
    group = ProcessGroup(tmp)
    try:
        broker_port, coord_port = free_ports(2)
        (tmp / "broker.toml").write_text(NODE_CONFIG)
        node = Node(group, tmp / "data", broker_port, coord_port)
        start_group_node(node)
        yield node
    finally:
        group.close()
