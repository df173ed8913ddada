"""A standalone coord server whose disk fills up stops (exit 1, as ZooKeeper does) without
acknowledging what it could not write, and once space is freed it starts again with every
acknowledged znode. Real process, a tmpfs the test mounts."""

from __future__ import annotations

import subprocess

from kazoo.client import KazooClient

from tests.storage_faults.conftest import SmallDisk
from tests.support.ports import free_port
from tests.support.procs import ProcessGroup, wait_for_port


def test_a_full_disk_stops_coord_and_a_restart_keeps_every_acknowledged_write(
    procs: ProcessGroup, small_disk: SmallDisk
) -> None:
    port = free_port()
    args = ("start", "--data-dir", str(small_disk.path / "coord"), "--client-port", str(port))
    proc = procs.start_coord("coord", *args)
    wait_for_port(port)
    zk = KazooClient(hosts=f"127.0.0.1:{port}", timeout=5, connection_retry={"max_tries": 1})
    zk.start(timeout=10)
    acked = []
    try:
        for i in range(20):
            zk.create(f"/n{i}", b"x" * 100)
            acked.append(f"/n{i}")
        small_disk.fill()
        try:
            for i in range(20, 40):  # bigger than a page: cannot fit in the log's slack
                zk.create(f"/n{i}", b"y" * 6000)
                acked.append(f"/n{i}")
        except Exception:  # noqa: BLE001 - the server stops: no reply, the connection closes
            pass
    finally:
        zk.stop()
        zk.close()
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError("coord kept running on a full disk:\n" + procs.log_text("coord")[-2000:]) from None
    assert code == 1 and "No space left on device" in procs.log_text("coord")
    small_disk.free()
    procs.start_coord("coord", *args)
    wait_for_port(port)
    zk = KazooClient(hosts=f"127.0.0.1:{port}", timeout=5)
    zk.start(timeout=10)
    try:
        missing = [p for p in acked if zk.exists(p) is None]
    finally:
        zk.stop()
        zk.close()
    assert not missing, missing
