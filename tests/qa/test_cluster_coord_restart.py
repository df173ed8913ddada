"""`pybroker cluster kill --coord N` had no way back: `cluster start` took only broker ids.
`cluster start --coord N` restarts the member with its data and ports and returns once it
serves again as leader or follower."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.cli.cluster_state import load_state, pid_alive
from tests.broker_cli.test_cluster_round_trip import cli, cluster_dir  # noqa: F401  (fixture reused)

pytestmark = pytest.mark.cluster


def test_kill_and_start_a_coord_member(cluster_dir: Path):  # noqa: F811
    up = cli("cluster", "up", "--nodes", "1", "--data-dir", str(cluster_dir))
    assert up.returncode == 0, up.stderr
    assert cli("cluster", "kill", "--coord", "2", "--data-dir", str(cluster_dir)).returncode == 0
    started = cli("cluster", "start", "--coord", "2", "--data-dir", str(cluster_dir))
    assert started.returncode == 0, started.stderr
    assert "coord-2 running again" in started.stdout
    member = load_state(cluster_dir).coord_member(2)
    assert pid_alive(member.pid, member.command)
    again = cli("cluster", "start", "--coord", "2", "--data-dir", str(cluster_dir))
    assert again.returncode == 1 and "already running" in again.stderr
