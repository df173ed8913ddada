"""`zk_server`: the servers our CoordClient must work against, as real processes.

"zookeeper" is a real Apache ZooKeeper 3.8 (tests/support/zookeeper.py); "coord" is our
server, `python -m coord start`. Both run with tickTime 2000 ms, so the smallest
session timeout either grants is 4 s. `zk_server` is shared by a module's tests that do
not break the server; `fresh_server` is a private one a test may stop, restart (same
port and data dir) or pause.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.procs import ProcessGroup, wait_for_port
from tests.support.zookeeper import ZooKeeperProcess, require_zookeeper

SERVERS = [pytest.param("zookeeper", marks=pytest.mark.zookeeper), "coord"]


class CoordProcess:
    """Our server behind the same start/stop/pause/resume interface as ZooKeeperProcess."""

    def __init__(self, base: Path) -> None:
        base.mkdir(parents=True, exist_ok=True)
        self.procs = ProcessGroup(base)
        self.port = free_port()
        self.args = (
            "start",
            "--id",
            "1",
            "--data-dir",
            str(base / "data"),
            "--client-port",
            str(self.port),
            "--tick-ms",
            "2000",
        )

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.procs.start_coord("coord", *self.args)
        try:
            wait_for_port(self.port)
        except TimeoutError:
            raise AssertionError(self.procs.log_text("coord")) from None

    def stop(self) -> None:
        if "coord" in self.procs.procs:
            self.procs.kill("coord")

    def pause(self) -> None:
        self.procs.procs["coord"].send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.procs.procs["coord"].send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.procs.close()


def _server(kind: str, base: Path) -> ZooKeeperProcess | CoordProcess:
    if kind == "zookeeper":
        require_zookeeper()
        return ZooKeeperProcess(data_dir=base, tick_ms=2000)
    return CoordProcess(base)


@contextmanager
def _running(kind: str, base: Path) -> Iterator[ZooKeeperProcess | CoordProcess]:
    server = _server(kind, base)
    server.kind = kind
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module", params=SERVERS)
def zk_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ZooKeeperProcess | CoordProcess]:
    with _running(request.param, tmp_path_factory.mktemp(request.param)) as server:
        yield server


@pytest.fixture(params=SERVERS)
def fresh_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ZooKeeperProcess | CoordProcess]:
    with _running(request.param, tmp_path / request.param) as server:
        yield server
