"""`pybroker cluster up` once failed with "broker-3 exited during start-up" and an empty
log: the broker was alive, but right after Popen returns, /proc/<pid>/cmdline can still
read empty (the kernel is finishing the exec), so pid_alive's command check said "not
ours", up declared the broker dead and tore the cluster down. The test from
tests/broker_cli/test_cluster_state.py hit the same window now and then."""

from __future__ import annotations

import subprocess

from broker.cli.cluster_state import pid_alive


def test_a_process_just_spawned_reads_as_alive():
    misses = 0
    for _ in range(300):
        command = ["sleep", "30"]
        proc = subprocess.Popen(command)
        try:
            misses += not pid_alive(proc.pid, command)
        finally:
            proc.kill()
            proc.wait()
    assert misses == 0
