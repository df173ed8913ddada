"""`pybroker status` right after `pybroker cluster kill <controller>`, before coord has
noticed the crash: it used to exit 1 with "cannot connect to broker ..." (it asked only
the controller for metadata); now it shows another broker's view with a warning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.broker_cluster.cluster import start_cluster
from tests.support.waiting import wait_until

pytestmark = pytest.mark.cluster


def test_status_right_after_the_controller_is_killed(procs, tmp_path: Path):
    cluster = start_cluster(procs, tmp_path, n=2)
    try:
        controller, _ = wait_until("a controller", cluster.controller)
        wait_until("both brokers registered", lambda: len(cluster.zk.get_children("/brokers/ids")) == 2)
        procs.kill(f"broker{controller}")
        status = subprocess.run(
            [sys.executable, "-m", "broker", "status", "--bootstrap", cluster.bootstrap, "--coord", cluster.coord],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        assert f"controller {controller} did not answer Metadata" in status.stdout + status.stderr
        assert "Brokers" in status.stdout
    finally:
        cluster.close()
