"""A cluster over three "machines" (Linux network namespaces joined by a bridge), laid
out as docs/operations.md's three-machine deployment: on each, one coord member and one
broker bound to that machine's own address with the default ports. The ensemble forms
across machines, every broker registers, and a client on a third machine finds them
all by their registered addresses, creates a replicated topic, and writes and reads
through the leader. Skipped, with the reason, where namespaces cannot be made."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker_cli import netns

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def lab() -> Iterator[netns.NetnsLab]:
    reason = netns.unavailable()
    if reason:
        pytest.skip(f"no network namespaces on this machine: {reason}")
    lab = netns.NetnsLab(3)
    try:
        lab.create()
        yield lab
    finally:
        lab.close()


class Servers:
    """Server processes started inside namespaces; all killed at the end."""

    def __init__(self, lab: netns.NetnsLab, log_dir: Path) -> None:
        self.lab, self.log_dir = lab, log_dir
        self.procs: list[subprocess.Popen] = []

    def start(self, host: int, name: str, *args: str) -> None:
        with open(self.log_dir / f"{name}.log", "ab") as log:
            self.procs.append(
                subprocess.Popen(
                    self.lab.command(host, [sys.executable, "-m", "broker", *args]),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=REPO,
                    start_new_session=True,
                    env={**os.environ, "PYTHONPATH": str(REPO)},
                )
            )

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in self.procs:
            proc.wait(timeout=10)


def client(lab: netns.NetnsLab, host: int, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        lab.command(host, [sys.executable, "-m", "broker", *args]),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        input=stdin,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_three_machine_cluster(lab: netns.NetnsLab, tmp_path: Path):
    servers = Servers(lab, tmp_path)
    a = lab.addresses
    peers = ",".join(f"{i}={addr}:2888:3888" for i, addr in enumerate(a, start=1))
    coord = ",".join(f"{addr}:2181" for addr in a)
    try:
        for i, addr in enumerate(a, start=1):
            servers.start(
                i,
                f"coord-{i}",
                "coord",
                "start",
                "--id",
                str(i),
                "--data-dir",
                str(tmp_path / f"c{i}"),
                "--host",
                addr,
                "--client-port",
                "2181",
                "--tick-ms",
                "1000",
                "--peers",
                peers,
            )
        for i, addr in enumerate(a, start=1):
            servers.start(
                i,
                f"broker-{i}",
                "broker",
                "start",
                "--id",
                str(i),
                "--data-dir",
                str(tmp_path / f"b{i}"),
                "--listen",
                f"{addr}:9092",
                "--coord",
                coord,
            )
        # A client on machine 3 that knows only machine 1's broker.
        deadline, report = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            out = client(lab, 3, "status", "--json", "--bootstrap", f"{a[0]}:9092", "--coord", coord)
            if out.returncode == 0:
                report = json.loads(out.stdout)
                if len(report["brokers"]) == 3 and report["controller_id"] > 0:
                    break
            time.sleep(0.5)
        assert report is not None and len(report["brokers"]) == 3, "\n".join(
            (tmp_path / f).read_text()[-1500:] for f in sorted(os.listdir(tmp_path)) if f.endswith(".log")
        )
        assert {(b["id"], b["host"], b["port"]) for b in report["brokers"]} == {
            (i, addr, 9092) for i, addr in enumerate(a, start=1)
        }
        assert all(b["registered"] for b in report["brokers"]) and report["controller_epoch"] >= 1

        bootstrap = f"{a[1]}:9092"  # machine 2's broker, from machine 3
        created = client(
            lab,
            3,
            "topics",
            "create",
            "spread",
            "--partitions",
            "3",
            "--replication-factor",
            "3",
            "--bootstrap",
            bootstrap,
        )
        assert created.returncode == 0, created.stderr
        report = json.loads(client(lab, 3, "status", "--json", "--bootstrap", bootstrap, "--topic", "spread").stdout)
        assert [sorted(p["replicas"]) for p in report["partitions"]] == [[1, 2, 3]] * 3
        # The data path: replication factor 1, so the high watermark does not wait on
        # followers; the partition led by the controller (which leads without LeaderAndIsr).
        created = client(lab, 3, "topics", "create", "single", "--partitions", "3", "--bootstrap", bootstrap)
        assert created.returncode == 0, created.stderr
        report = json.loads(client(lab, 3, "status", "--json", "--bootstrap", bootstrap, "--topic", "single").stdout)
        partition = next(p for p in report["partitions"] if p["leader"] == report["controller_id"])
        produced = client(
            lab,
            2,
            "produce",
            "single",
            "--partition",
            str(partition["partition"]),
            "--acks",
            "1",
            "--bootstrap",
            f"{a[0]}:9092",
            stdin="across\nmachines\n",
        )
        assert produced.returncode == 0, produced.stderr
        consumed = client(
            lab,
            1,
            "consume",
            "single",
            "--partition",
            str(partition["partition"]),
            "--from-beginning",
            "--max-messages",
            "2",
            "--timeout-ms",
            "15000",
            "--bootstrap",
            f"{a[2]}:9092",
        )
        assert consumed.stdout.split() == ["across", "machines"], consumed.stderr
    finally:
        servers.close()
