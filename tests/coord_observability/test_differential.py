"""coord's AdminServer and metric names against a real Apache ZooKeeper 3.8 (Debian's).

Both servers get the same traffic; then every AdminServer command we serve (by every
alias) must answer with exactly ZooKeeper's keys, nested objects included, and the
counts both can know must be equal. Debian's ZooKeeper ships no Prometheus provider
(no simpleclient jars), so the metric names are checked against its `monitor` command
instead, which dumps the same gauges by the same names (summaries as cnt_<name>, ...).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from coord.server.admin import BY_NAME, PRIMARY_NAMES
from coord.server.metrics import OURS, SUMMARIES
from tests.coord_observability.conftest import Observed
from tests.coord_observability.observe import command, families, get
from tests.support.zookeeper import ZooKeeperProcess, require_zookeeper

pytestmark = pytest.mark.zookeeper

# mntr rows coord adds to ZooKeeper's (listed in docs/operations.md)
COORD_ONLY_MNTR = {"last_zxid", "followers", "pending_proposals"}
# counts that the same traffic makes equal on both servers
SAME_VALUE = (
    "znode_count",
    "watch_count",
    "ephemerals_count",
    "global_sessions",
    "local_sessions",
    "num_alive_connections",
    "approximate_data_size",
)


@pytest.fixture(scope="module")
def zookeeper_admin() -> Iterator[tuple[ZooKeeperProcess, int]]:
    require_zookeeper()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        admin_port = s.getsockname()[1]
    zk = ZooKeeperProcess(admin_port=admin_port)
    try:
        try:
            zk.start()
        except (RuntimeError, TimeoutError) as e:
            pytest.skip(f"real ZooKeeper did not start: {e}")
        yield zk, admin_port
    finally:
        zk.close()


def _traffic(hosts: str) -> KazooClient:
    """The same few ops on either server; the session stays open for the comparison."""
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=15)
    zk.create("/eph", b"e", ephemeral=True)
    zk.create("/data", b"0123456789")
    zk.get("/eph", watch=lambda _e: None)
    zk.get_children("/", watch=lambda _e: None)
    return zk


def _shape(value: Any) -> Any:
    """The keys of a JSON answer, recursively (lists by their first element)."""
    if isinstance(value, dict):
        if all(k.isdigit() or k.startswith("/") for k in value) and value:
            return {"<id>": _shape(next(iter(value.values())))}
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__ if isinstance(value, bool) else "scalar"


def test_admin_commands_have_zookeepers_shape(
    zookeeper_admin: tuple[ZooKeeperProcess, int], observed: Observed
) -> None:
    zk, zk_admin = zookeeper_admin
    theirs_client, ours_client = _traffic(zk.hosts), _traffic(observed.coord.hosts)
    try:
        for name in sorted(BY_NAME):
            if name in ("srst", "stat_reset", "crst", "connection_stat_reset"):
                continue  # run last: they would reset what the others report
            theirs, ours = command(zk_admin, name), command(observed.admin_port, name)
            assert ours["command"] == theirs["command"], name
            if name in ("monitor", "mntr"):
                assert set(ours) - COORD_ONLY_MNTR <= set(theirs), set(ours) - set(theirs)
                for key in SAME_VALUE:
                    assert ours[key] == theirs[key], (key, ours[key], theirs[key])
            elif name in ("environment", "env", "envi"):
                assert set(ours) == set(theirs), set(ours) ^ set(theirs)
            else:
                assert _shape(ours) == _shape(theirs), (name, ours, theirs)
        for name in ("srst", "stat_reset", "crst", "connection_stat_reset", "no_such_command"):
            assert command(observed.admin_port, name) == command(zk_admin, name)
        their_links = get(zk_admin, "/commands")[1]
        assert all(f'href="/commands/{name}"' in their_links for name in PRIMARY_NAMES)
    finally:
        for client in (theirs_client, ours_client):
            client.stop()
            client.close()


def test_metric_names_are_among_zookeepers(zookeeper_admin: tuple[ZooKeeperProcess, int], observed: Observed) -> None:
    _, zk_admin = zookeeper_admin
    monitor = set(command(zk_admin, "monitor"))
    ours = {n for n in families(observed.metrics_port) if not n.startswith("process_")}
    ours -= set(OURS)
    gauges = ours - set(SUMMARIES)
    assert gauges <= monitor, gauges - monitor
    assert {f"cnt_{s}" for s in SUMMARIES} <= monitor
    assert {
        "znode_count",
        "watch_count",
        "ephemerals_count",
        "global_sessions",
        "num_alive_connections",
        "outstanding_requests",
        "avg_latency",
        "uptime",
    } <= gauges
    assert Path("/usr/share/java/zookeeper.jar").exists()
