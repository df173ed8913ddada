"""Fixtures: our coord server as a real process (`python -m coord start`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from tests.support.ports import free_port
from tests.support.procs import ProcessGroup, wait_for_port


@dataclass
class RunningCoord:
    procs: ProcessGroup
    name: str
    port: int
    data_dir: Path
    args: tuple[str, ...]

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def restart(self) -> None:
        self.procs.start_coord(self.name, *self.args)
        wait_for_port(self.port)


def start_coord(procs: ProcessGroup, data_dir: Path, name: str = "coord", *extra: str) -> RunningCoord:
    port = free_port()
    args = ("start", "--id", "1", "--data-dir", str(data_dir), "--client-port", str(port), *extra)
    procs.start_coord(name, *args)
    try:
        wait_for_port(port)
    except TimeoutError:
        raise AssertionError(procs.log_text(name)) from None
    return RunningCoord(procs, name, port, data_dir, args)


@pytest.fixture(scope="module")
def shared_coord(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCoord]:
    """One server for a whole module of tests that do not restart it (tick 200 ms so
    that session expiry tests stay short), with every four-letter word allowed."""
    base = tmp_path_factory.mktemp("coord")
    # These tests use every four-letter word (only srvr is allowed by default) and open
    # 1,000 connections from one address (60 by default).
    config = base / "coord.toml"
    config.write_text('four_letter_whitelist = "*"\nmax_client_cnxns = 0\n')
    group = ProcessGroup(base)
    try:
        yield start_coord(group, base / "data", "coord", "--tick-ms", "200", "--config", str(config))
    finally:
        group.close()


@pytest.fixture
def kz(shared_coord: RunningCoord) -> Iterator[KazooClient]:
    client = KazooClient(hosts=shared_coord.hosts, timeout=5)
    client.start(timeout=10)
    try:
        yield client
    finally:
        client.stop()
        client.close()


@pytest.fixture(scope="session")
def real_zookeeper() -> Iterator[str]:
    """A real Apache ZooKeeper 3.8 (the codec engineer's launcher), for differential tests."""
    from tests.support.zookeeper import running_zookeeper

    with running_zookeeper() as hosts:
        yield hosts
