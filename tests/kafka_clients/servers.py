"""The brokers the Kafka-client tests talk to: one real `pybroker start` node, or a real
3-broker cluster (tests/broker_cluster), on free loopback ports.

KAFKA_CLIENTS_BOOTSTRAP=host:port points the single-node tests at a broker started
elsewhere instead (any Kafka-protocol server, to tell a fault of ours from a fault of
the test). This module must never leave a process running: every one goes through a
ProcessGroup that the fixture closes.
"""

from __future__ import annotations

import importlib.util
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port

REFERENCE_ENV = "KAFKA_CLIENTS_BOOTSTRAP"


@dataclass
class Broker:
    """A broker the tests reach at `bootstrap`; `procs` is None for a reference broker."""

    bootstrap: str
    procs: ProcessGroup | None = None
    name: str = "node"
    coord: str | None = None  # the node's coord host:port (None for a reference broker)

    def alive(self) -> bool:
        return self.procs is None or self.procs.procs[self.name].poll() is None

    def log(self) -> str:
        return "" if self.procs is None else self.procs.log_text(self.name)


def reference_bootstrap() -> str | None:
    return os.environ.get(REFERENCE_ENV) or None


def start_node(procs: ProcessGroup, data_dir: Path, extra: tuple[str, ...] = ()) -> Broker:
    """`python -m broker start` on free ports, with Kafka's defaults (port 9092's protocol)."""
    broker_port, coord_port = free_ports(2)
    procs.start(
        "node",
        "start",
        "--data-dir",
        str(data_dir),
        "--broker-port",
        str(broker_port),
        "--coord-port",
        str(coord_port),
        *extra,
    )
    try:
        wait_for_port(broker_port, timeout=60)
    except TimeoutError:
        raise AssertionError(f"pybroker start did not listen; its log:\n{procs.log_text('node')}") from None
    broker = Broker(f"127.0.0.1:{broker_port}", procs, coord=f"127.0.0.1:{coord_port}")
    probe_kafka(broker)
    return broker


def probe_kafka(broker: Broker) -> None:
    """Fail at once, saying why, unless the port answers Kafka's ApiVersions v0 (so that a
    broker that does not speak Kafka fails each test in a second, not after its timeouts)."""
    from tests.kafka_clients.kwire import API_API_VERSIONS, RawConn, parse_api_versions_v0

    try:
        with RawConn(broker.bootstrap, timeout=15) as conn:
            error, table = parse_api_versions_v0(conn.call(API_API_VERSIONS, 0, b""))
    except Exception as exc:  # any failure here means the same thing
        raise AssertionError(
            f"{broker.bootstrap} does not answer Kafka's ApiVersions v0 ({exc!r}); broker log:\n{broker.log()[-3000:]}"
        ) from exc
    assert error == 0 and table, f"ApiVersions v0 from {broker.bootstrap}: error {error}, table {table}"


def unique_topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_topic(
    bootstrap: str,
    name: str,
    partitions: int = 1,
    replication: int = 1,
    configs: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> None:
    """Create `name` with librdkafka's admin client (pybroker's where confluent-kafka is
    missing) and wait until every partition has a leader, so that a test's first produce
    does not race the controller."""
    if importlib.util.find_spec("confluent_kafka") is None:
        _create_with_pybroker(bootstrap, name, partitions, replication, configs, timeout)
        return
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=replication, config=configs or {})],
        request_timeout=timeout,
    )
    futures[name].result(timeout)
    wait_for_leaders(admin, name, partitions, timeout)


def _create_with_pybroker(
    bootstrap: str, name: str, partitions: int, replication: int, configs: dict[str, str] | None, timeout: float
) -> None:
    from client import Admin, NewTopic

    with Admin(bootstrap) as admin:
        admin.create_topics([NewTopic(name, partitions, replication, configs)])
        deadline = time.monotonic() + timeout
        while not all(p.leader >= 0 for t in admin.describe_topics([name]) for p in t.partitions):
            if time.monotonic() > deadline:
                raise AssertionError(f"topic {name}: partitions without a leader after {timeout}s")
            time.sleep(0.2)


def wait_for_leaders(admin: Any, name: str, partitions: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        topic = admin.list_topics(name, timeout=10).topics.get(name)
        if (
            topic is not None
            and topic.error is None
            and len(topic.partitions) == partitions
            and all(p.leader >= 0 for p in topic.partitions.values())
        ):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"topic {name}: not {partitions} partitions with leaders after {timeout}s: {topic}")
        time.sleep(0.2)
