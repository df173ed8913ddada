"""Fixtures: a real `pybroker start` node (the broker tests' fixtures, reused) and fresh topics."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from tests.broker_server.conftest import Node, node, shared_node  # noqa: F401  (fixtures reused here)

_names = itertools.count()


def bootstrap(node: Node) -> str:  # noqa: F811 - a fixture imported above
    return f"127.0.0.1:{node.broker_port}"


@pytest.fixture
def new_topic(shared_node: Node) -> Callable[..., str]:  # noqa: F811
    """Create a topic with a fresh name on the shared node; returns the name."""
    from client import Admin, NewTopic

    def create(partitions: int = 1, configs: dict[str, str] | None = None) -> str:
        name = f"t{next(_names)}"
        with Admin(bootstrap(shared_node)) as admin:
            admin.create_topics([NewTopic(name, partitions, 1, configs)])
        return name

    return create
