"""A real 3-broker local cluster with metrics ports, for the metrics and console tests.

`pybroker cluster up` processes (3 coord members, 3 brokers each with --metrics-port),
torn down with `cluster down` whatever the test did; plus scraping helpers over plain HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from broker.cli.cluster_state import ClusterState, load_state, pid_alive, state_path


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "broker", *args], capture_output=True, text=True, timeout=timeout)


@contextmanager
def local_cluster(data_dir: Path, session_timeout_ms: int = 3000) -> Iterator[ClusterState]:
    try:
        up = cli(
            "cluster",
            "up",
            "--nodes",
            "3",
            "--session-timeout-ms",
            str(session_timeout_ms),
            "--data-dir",
            str(data_dir),
        )
        assert up.returncode == 0, up.stderr
        state = load_state(data_dir)
        for b in state.brokers:
            assert f"broker {b.id} console   {b.console_url}" in up.stdout, up.stdout
        yield state
    finally:
        if state_path(data_dir).exists():
            state = load_state(data_dir)
            cli("cluster", "down", "--data-dir", str(data_dir), "--grace", "5")
            assert not any(pid_alive(m.pid, m.command) for m in state.members)


def get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def scrape(metrics_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page: (name, sorted labels) -> value."""
    out = {}
    for family in text_string_to_metric_families(get(metrics_url).decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def cluster_json(console_url: str) -> dict:
    return json.loads(get(console_url + "api/cluster"))
