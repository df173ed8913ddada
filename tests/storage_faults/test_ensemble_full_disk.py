"""A coord ensemble member whose disk fills up (real processes, a tmpfs the test mounts).

The member whose txn log write fails stops (exit code 1, as ZooKeeper stops the server),
acknowledges nothing it did not write, the other two keep serving, and once space is
freed the restarted member rejoins from what is on its disk and ends identical.
"""

from __future__ import annotations

from pathlib import Path

from tests.coord_ensemble.harness import Ensemble, kazoo
from tests.storage_faults.conftest import SmallDisk
from tests.support.procs import ProcessGroup
from tests.support.waiting import wait_until

VICTIM = 2


def test_a_member_with_a_full_disk_stops_and_rejoins_once_space_is_freed(
    procs: ProcessGroup, tmp_path: Path, small_disk: SmallDisk
) -> None:
    (tmp_path / f"data{VICTIM}").symlink_to(small_disk.path)
    ens = Ensemble(procs, tmp_path, 3)
    try:
        ens.start()
        ens.wait_leader()
        others = [s for s in ens.sids if s != VICTIM]
        zk = kazoo(ens.hosts(others))
        try:
            zk.ensure_path("/d")
            for i in range(10):
                zk.create(f"/d/before{i}", b"x")
            small_disk.fill()
            acked = []
            for i in range(40):  # each value bigger than a page: the victim's log cannot take it
                zk.create(f"/d/during{i}", b"y" * 6000)
                acked.append(f"/d/during{i}")
            code = wait_until(f"member {VICTIM} exits", lambda: procs.procs[ens.name(VICTIM)].poll(), 30)
            assert code == 1, procs.log_text(ens.name(VICTIM))[-2000:]
            log = procs.log_text(ens.name(VICTIM))
            assert "No space left on device" in log and "storage failed" in log, log[-2000:]
            ens.wait_leader(among=others)
            zk.create("/d/after", b"z")
        finally:
            zk.stop()
            zk.close()
        small_disk.free()
        ens.start(VICTIM)
        tree = ens.assert_identical()
        assert all(p in tree for p in acked + ["/d/after"])
    finally:
        ens.close()
