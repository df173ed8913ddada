"""`pybroker start` (coord and broker in one process) stops when its embedded coord has
failed: a clear message and a non-zero exit, not a broker serving on a dead coord.
Real process, real full disk (a tmpfs the test mounts)."""

from __future__ import annotations

import subprocess

from kazoo.client import KazooClient

from tests.storage_faults.conftest import SmallDisk
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port


def test_start_exits_nonzero_when_its_coord_cannot_write_its_log(procs: ProcessGroup, small_disk: SmallDisk) -> None:
    broker_port, coord_port = free_ports(2)
    proc = procs.start(
        "node",
        "start",
        "--data-dir",
        str(small_disk.path / "node"),
        "--broker-port",
        str(broker_port),
        "--coord-port",
        str(coord_port),
    )
    wait_for_port(broker_port, timeout=30)
    zk = KazooClient(hosts=f"127.0.0.1:{coord_port}", timeout=5)
    zk.start(timeout=10)
    try:
        zk.create("/before", b"x")
        small_disk.fill()
        try:  # bigger than a page: cannot fit in the slack of the log's last page
            zk.create("/after", b"y" * 20000)
        except Exception:  # noqa: BLE001 - the reply never comes: the server stops
            pass
    finally:
        zk.stop()
        zk.close()
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            "pybroker start kept running with a failed coord:\n" + procs.log_text("node")[-3000:]
        ) from exc
    out = procs.log_text("node")
    assert code != 0, out[-3000:]
    assert "No space left on device" in out, out[-3000:]
    assert "the embedded coord server stopped" in out, out[-3000:]
