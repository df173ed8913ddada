"""Fixtures for the tests that drive pybroker with real Kafka clients: a running node
shared by a module, a fresh topic per test, and a skip for each client that is missing
here (CI installs them all: see .ci/run)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.kafka_clients.drivers import CLIENTS
from tests.kafka_clients.servers import Broker, create_topic, reference_bootstrap, start_node, unique_topic
from tests.support.procs import ProcessGroup


def needs(*names: str) -> pytest.MarkDecorator:
    """Skip unless every client in `names` can run here, saying which is missing and why."""
    missing = [f"{n}: {CLIENTS[n].missing}" for n in names if CLIENTS[n].missing]
    return pytest.mark.skipif(bool(missing), reason="; ".join(missing))


@pytest.fixture(scope="module")
def kafka_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One running `pybroker start` shared by a module's tests (or the reference broker)."""
    reference = reference_bootstrap()
    if reference:
        yield Broker(reference)
        return
    tmp = tmp_path_factory.mktemp("kafka-node")
    group = ProcessGroup(tmp)
    try:
        yield start_node(group, tmp / "data")
    finally:
        group.close()


@pytest.fixture
def new_topic(kafka_node: Broker) -> Callable[..., str]:
    """new_topic(prefix, partitions=3, **configs): a freshly created topic's name."""

    def make(prefix: str = "t", partitions: int = 3, configs: dict[str, str] | None = None) -> str:
        name = unique_topic(prefix)
        create_topic(kafka_node.bootstrap, name, partitions, configs=configs)
        return name

    return make
