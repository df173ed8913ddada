"""The local cluster's plan and state file: distinct ports, an ensemble peer list every
member agrees on, a state file that round-trips, and liveness that a dead, zombie or
recycled pid does not fool."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from broker.cli.cluster_procs import plan_cluster
from broker.cli.cluster_state import ClusterStateError, load_state, pid_alive, save_state, state_path


def test_plan_gives_every_process_its_own_ports_and_dirs(tmp_path: Path):
    state = plan_cluster(tmp_path, nodes=4, coord_nodes=3)
    ports = [m.port for m in state.members] + [p for c in state.coord for p in (c.quorum_port, c.election_port)]
    assert len(ports) == len(set(ports)) == 3 * 3 + 4
    assert len({m.data_dir for m in state.members}) == 7
    peer_lists = {c.command[c.command.index("--peers") + 1] for c in state.coord}
    assert len(peer_lists) == 1  # every member is given the same ensemble
    peers = peer_lists.pop().split(",")
    assert peers == [f"{c.id}=127.0.0.1:{c.quorum_port}:{c.election_port}" for c in state.coord]
    for b in state.brokers:
        assert b.command[b.command.index("--coord") + 1] == state.coord_connect
        assert b.command[b.command.index("--port") + 1] == str(b.port)
    assert state.bootstrap == ",".join(f"127.0.0.1:{b.port}" for b in state.brokers)


def test_plan_refuses_nonsense(tmp_path: Path):
    with pytest.raises(ValueError, match="--nodes"):
        plan_cluster(tmp_path, nodes=0)
    with pytest.raises(ValueError, match="--coord-nodes"):
        plan_cluster(tmp_path, nodes=1, coord_nodes=0)


def test_standalone_coord_has_no_peer_list(tmp_path: Path):
    state = plan_cluster(tmp_path, nodes=1, coord_nodes=1)
    assert "--peers" not in state.coord[0].command


def test_state_file_round_trip_and_clear_errors(tmp_path: Path):
    state = plan_cluster(tmp_path, nodes=2)
    state.brokers[0].pid = 1234
    save_state(state)
    again = load_state(tmp_path)
    assert again == state and again.broker(1).pid == 1234
    with pytest.raises(ClusterStateError, match="no broker 9 in this cluster"):
        again.broker(9)
    state_path(tmp_path).write_text("{}")
    with pytest.raises(ClusterStateError, match="version"):
        load_state(tmp_path)
    state_path(tmp_path).write_text("not json")
    with pytest.raises(ClusterStateError, match="not a pybroker cluster state file"):
        load_state(tmp_path)
    with pytest.raises(ClusterStateError, match="cluster up --data-dir"):
        load_state(tmp_path / "elsewhere")


def test_pid_alive_sees_through_zombies_and_other_programs():
    command = [sys.executable, "-c", "import time; time.sleep(30)"]
    proc = subprocess.Popen(command)
    try:
        assert pid_alive(proc.pid, command)
        assert not pid_alive(proc.pid, [sys.executable, "-m", "broker", "broker", "start"])  # a recycled pid
        proc.kill()
        deadline = time.monotonic() + 10
        while pid_alive(proc.pid, command) and time.monotonic() < deadline:  # a zombie until reaped
            time.sleep(0.05)
        assert not pid_alive(proc.pid, command)
    finally:
        proc.kill()
    assert not pid_alive(0) and not pid_alive(-5)
