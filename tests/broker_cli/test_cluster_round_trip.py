"""`pybroker cluster up|ps|kill|start|down` and `pybroker status` as a user runs them:
real detached processes (3 coord members + 3 brokers), the state file, the status
table and JSON, and nothing left running afterwards."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker.cli.cluster_state import load_state, pid_alive, state_path
from tests.broker_cli.procscan import processes_mentioning

pytestmark = pytest.mark.cluster


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "broker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def cluster_dir(tmp_path: Path) -> Iterator[Path]:
    """The cluster's directory; whatever the test did, its processes are gone afterwards."""
    data_dir = tmp_path / "cluster"
    try:
        yield data_dir
    finally:
        if state_path(data_dir).exists():
            state = load_state(data_dir)
            cli("cluster", "down", "--data-dir", str(data_dir), "--grace", "5")
            for m in state.members:
                assert not pid_alive(m.pid, m.command), f"{m.name} survived cluster down"


def test_up_status_kill_start_down(cluster_dir: Path):
    d = ("--data-dir", str(cluster_dir))
    up = cli("cluster", "up", "--nodes", "3", "--session-timeout-ms", "4000", *d)
    assert up.returncode == 0, up.stderr
    state = load_state(cluster_dir)
    assert f"bootstrap servers  {state.bootstrap}" in up.stdout
    assert f"coord connect      {state.coord_connect}" in up.stdout
    assert len(state.coord) == 3 and len(state.brokers) == 3
    assert all(pid_alive(m.pid, m.command) for m in state.members)

    again = cli("cluster", "up", *d)
    assert again.returncode == 1 and "a cluster is already running in" in again.stderr
    assert load_state(cluster_dir) == state  # the refusal changed nothing

    created = cli(
        "topics", "create", "rt", "--partitions", "2", "--replication-factor", "3", "--bootstrap", state.bootstrap
    )
    assert created.returncode == 0, created.stderr

    status = cli("status", *d)
    assert status.returncode == 0, status.stderr
    assert "Controller: broker " in status.stdout and "(epoch 1)" in status.stdout
    for b in state.brokers:
        assert f"{b.id}   {b.host}:{b.port}" in status.stdout
    no_state = ("--data-dir", str(cluster_dir / "elsewhere"))  # no state file: the brokers alone, no coord
    through_a_broker = cli("status", "--bootstrap", state.bootstrap, *no_state)
    assert through_a_broker.returncode == 0, through_a_broker.stderr
    assert "(its epoch is kept in coord: add --coord HOST:PORT to show it)" in through_a_broker.stdout
    report = json.loads(
        cli("status", "--json", "--bootstrap", state.bootstrap, "--coord", state.coord_connect, "--topic", "rt").stdout
    )
    assert report["controller_epoch"] == 1 and report["controller_id"] in (1, 2, 3)
    assert sorted(b["id"] for b in report["brokers"]) == [1, 2, 3]
    assert all(b["registered"] for b in report["brokers"])
    modes = sorted(c["mode"] for c in report["coord"])
    assert modes == ["follower", "follower", "leader"], report["coord"]  # a real ensemble
    assert [(p["topic"], p["partition"]) for p in report["partitions"]] == [("rt", 0), ("rt", 1)]
    for p in report["partitions"]:
        assert sorted(p["replicas"]) == [1, 2, 3] and p["leader"] in p["replicas"] and p["leader_epoch"] >= 0

    victim = next(b for b in state.brokers if b.id != report["controller_id"])
    kill = cli("cluster", "kill", str(victim.id), *d)
    assert kill.returncode == 0 and f"sent SIGKILL to broker-{victim.id}" in kill.stdout
    ps = cli("cluster", "ps", *d).stdout
    assert (
        f"broker-{victim.id}" in ps
        and "stopped" in next(line for line in ps.splitlines() if line.startswith(f"broker-{victim.id}")).split()
    )
    start = cli("cluster", "start", str(victim.id), *d)
    assert start.returncode == 0, start.stderr
    restarted = load_state(cluster_dir).broker(victim.id)
    assert restarted.pid != victim.pid and pid_alive(restarted.pid, restarted.command)

    down = cli("cluster", "down", *d)
    assert down.returncode == 0, down.stderr
    assert "is down (6 processes were running)" in down.stdout
    assert not state_path(cluster_dir).exists()
    for m in [*state.coord, *state.brokers, restarted]:
        assert not pid_alive(m.pid, m.command), m.name


def test_down_and_status_without_a_cluster_say_what_to_do(tmp_path: Path):
    down = cli("cluster", "down", "--data-dir", str(tmp_path))
    assert down.returncode == 1 and "pybroker cluster up --data-dir" in down.stderr
    kill = cli("cluster", "kill", "1", "--data-dir", str(tmp_path))
    assert kill.returncode == 1 and "cluster.json missing" in kill.stderr


def test_a_broker_dying_at_start_up_is_reported_and_nothing_is_left(tmp_path: Path):
    data_dir = tmp_path / "cluster"
    (data_dir / "broker-1").mkdir(parents=True)
    with open(data_dir / "broker-1" / ".lock", "a") as lock:  # as if another broker used this directory
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        up = cli("cluster", "up", "--nodes", "1", "--data-dir", str(data_dir), "--timeout", "60")
    assert up.returncode == 1
    assert "broker-1 exited during start-up" in up.stderr and "is in use by another running pybroker" in up.stderr
    assert not state_path(data_dir).exists()
    assert processes_mentioning(str(data_dir)) == []
