"""Fixtures: a real `pybroker start` node on free loopback ports, and fresh topics on it."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from broker.cli.main import COMMAND_MODULES
from tests.broker_server.conftest import Node
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup

_names = itertools.count()


def make_node(procs: ProcessGroup, tmp: Path) -> Node:
    if "broker.cli.start" not in COMMAND_MODULES:
        pytest.skip("`pybroker start` is not registered yet (broker.cli.start missing from COMMAND_MODULES)")
    broker_port, coord_port = free_ports(2)
    return Node(procs, tmp / "data", broker_port, coord_port)


@pytest.fixture(scope="module")
def shared_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One running node shared by a module's tests; each test uses its own topics."""
    tmp = tmp_path_factory.mktemp("client-node")
    group = ProcessGroup(tmp)
    try:
        node = make_node(group, tmp)
        node.start()
        yield node
    finally:
        group.close()


@pytest.fixture
def node(procs: ProcessGroup, tmp_path: Path) -> Node:
    """A node of this test alone, not started yet (tests that kill or restart it)."""
    return make_node(procs, tmp_path)


def bootstrap(node: Node) -> str:
    return f"127.0.0.1:{node.broker_port}"


@pytest.fixture
def new_topic(shared_node: Node) -> Callable[..., str]:
    """Create a topic with a fresh name on the shared node; returns the name."""
    from client import Admin, NewTopic

    def create(partitions: int = 1, configs: dict[str, str] | None = None) -> str:
        name = f"t{next(_names)}"
        with Admin(bootstrap(shared_node)) as admin:
            admin.create_topics([NewTopic(name, partitions, 1, configs)])
        return name

    return create
