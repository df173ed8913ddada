"""After `pybroker cluster up`, the client commands still default to 127.0.0.1:9092, where
nothing listens; the "no broker answered" error must then say where the local cluster's
brokers are. Uses this test process as the cluster's one "running" member (no servers)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from broker.cli.clientcmd import local_cluster_hint
from broker.cli.cluster_state import ClusterState, Member, save_state
from client.errors import NoBrokersAvailableError, UnknownTopicOrPartitionError


def _own_command() -> list[str]:
    return [a.decode() for a in Path("/proc/self/cmdline").read_bytes().split(b"\0") if a]


def test_hint_names_the_running_local_cluster(tmp_path: Path):
    cluster_dir = tmp_path / "pybroker-cluster"
    cluster_dir.mkdir()
    state = ClusterState(data_dir=str(cluster_dir))
    state.brokers.append(
        Member("broker", 1, "127.0.0.1", 40123, _own_command(), str(tmp_path / "b.log"), str(tmp_path), pid=os.getpid())
    )
    save_state(state)
    no_broker = NoBrokersAvailableError("no broker answered (tried 127.0.0.1:9092)")
    assert "--bootstrap 127.0.0.1:40123" in local_cluster_hint(no_broker, cluster_dir)
    assert local_cluster_hint(UnknownTopicOrPartitionError("x"), cluster_dir) == ""


@pytest.mark.parametrize("content", [None, "not json"])
def test_no_hint_without_a_readable_running_cluster(tmp_path: Path, content: str | None):
    cluster_dir = tmp_path / "pybroker-cluster"
    if content is not None:
        cluster_dir.mkdir()
        (cluster_dir / "cluster.json").write_text(content)
    assert local_cluster_hint(NoBrokersAvailableError("no broker answered"), cluster_dir) == ""
