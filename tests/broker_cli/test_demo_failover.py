"""`pybroker demo failover` end to end: it starts its cluster, plays the three acts,
narrates from coord, prints the summary, and leaves no process or directory behind.

The verdict test (leadership moves, writes resume, ISR grows back, nothing acknowledged
lost) needs replication and failover in the brokers; until that work is merged it is an
expected failure (strict=False), while the run-to-completion test must always pass."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.broker_cli.procscan import processes_mentioning

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    data_dir = tmp_path_factory.mktemp("demo") / "cluster"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "broker",
            "demo",
            "failover",
            "--data-dir",
            str(data_dir),
            "--warmup",
            "2",
            "--dwell",
            "1",
            "--act-timeout",
            "12",
            "--session-timeout-ms",
            "3000",
        ],
        capture_output=True,
        text=True,
        timeout=170,
    )
    return out, data_dir


def test_demo_runs_to_completion_narrates_and_cleans_up(demo_run):
    out, data_dir = demo_run
    text = out.stdout
    assert out.returncode in (0, 1), out.stderr[-3000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    for title in (
        "Act 1: SIGKILL the leader of partition 0",
        "Act 2: SIGKILL the controller",
        "Act 3: restart the dead brokers",
        "Summary",
    ):
        assert title in text, text
    killed = [int(b) for b in re.findall(r"SIGKILL broker (\d+) \(pid", text)]
    assert len(killed) == 2, text
    for broker_id in killed:  # the ephemeral registration vanishes, and comes back on restart
        assert f"/brokers/ids/{broker_id} vanished" in text, text
        assert f"broker {broker_id} registered /brokers/ids/{broker_id}" in text, text
    assert re.search(r"controller epoch (\d+) -> (\d+)", text), text
    # the console's address, falling back to the other brokers' while its own is killed
    assert re.search(
        r"watch it live in a browser: http://127\.0\.0\.1:\d+/\?also=127\.0\.0\.1:\d+,127\.0\.0\.1:\d+", text
    ), text
    assert "acknowledged but lost" in text and "unavailability" in text
    assert "cluster stopped and its directory removed" in text
    assert not data_dir.exists()
    assert processes_mentioning(str(data_dir)) == []


def test_demo_verdict_no_acknowledged_record_lost(demo_run):
    out, _ = demo_run
    text = out.stdout
    assert out.returncode == 0, text
    assert re.search(r"acknowledged \(acks=all\)\s+(\d+)", text) and "acknowledged but lost             0" in text
    act1 = text.split("== Act 1")[1].split("== Act 2")[0]
    assert "elected broker" in act1 and "writes flow again" in act1, act1
    act3 = text.split("== Act 3")[1].split("== Finale")[0]
    assert "every replica caught up with the leader and is back in sync" in act3, act3


def test_ctrl_c_tears_the_cluster_down(tmp_path: Path):
    data_dir, out_path = tmp_path / "cluster", tmp_path / "demo.out"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "broker", "demo", "failover", "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 60
        while "consumer running" not in out_path.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, out_path.read_text()
            time.sleep(0.1)
        assert processes_mentioning(str(data_dir)), "the demo's cluster should be running now"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out_path.read_text()
    assert "interrupted: tearing the cluster down" in text and "cluster stopped" in text, text
    assert processes_mentioning(str(data_dir)) == []
    assert not data_dir.exists()
