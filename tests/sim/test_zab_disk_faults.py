"""The ZAB core under the simulator when a member's disk fails (storage.diskio's FaultPlan
on a `SimDisk`): the shell fail-stops that member, as the real shell does, so it
acknowledges nothing its log does not hold; the others keep committing, and the member
restarted from its disk converges with them. Every acknowledged write survives."""

from __future__ import annotations

import pytest

from tests.sim.zab_cluster import ZabCluster


def _leader(cluster: ZabCluster) -> int:
    return next(n.sid for n in cluster.live() if n.peer and n.peer.serving and n.peer.state.value == "leading")


@pytest.mark.parametrize("fault", ["write", "fsync"])
@pytest.mark.parametrize("who", ["follower", "leader"])
def test_a_member_whose_disk_fails_stops_and_rejoins(fault: str, who: str) -> None:
    cluster = ZabCluster(seed=11, size=3)
    cluster.sched.every(0.05, cluster.client_write, start=0.5)
    cluster.sched.run_until(3.0)
    leader = _leader(cluster)
    victim = leader if who == "leader" else leader % 3 + 1
    if fault == "write":
        cluster.disk_faults.fail_write(1, match=f"s{victim}/")
    else:
        cluster.disk_faults.fail_fsync(1, match=f"s{victim}/")
    before = len(cluster.checker.history)
    cluster.sched.run_until(6.0)
    assert cluster.disk_faults.fired
    assert cluster.nodes[victim].peer is None, "the member went on after its disk failed"
    assert len(cluster.checker.history) > before + 10, "the others stopped committing"
    cluster.disk_faults.heal()
    cluster.start(victim)
    cluster.healed_at = cluster.sched.now
    assert cluster.sched.run_until(30.0, stop=cluster.converged)
    cluster.checker.check_converged({n.sid: n.applied for n in cluster.live()})
