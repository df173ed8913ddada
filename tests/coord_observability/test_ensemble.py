"""Every member of a real 3-member ensemble serves its own /metrics and AdminServer, and
they tell the quorum's story: one leader with two synced followers, the same tree
everywhere, and a new leader's gauges after the old one is killed."""

from __future__ import annotations

from collections.abc import Callable

from tests.coord_ensemble.harness import Ensemble, kazoo
from tests.coord_observability.observe import OBSERVED, command, printed_ports, scrape
from tests.support.waiting import wait_until


def test_each_member_reports_its_role_and_the_quorum(ensemble: Callable[..., Ensemble]) -> None:
    ens = ensemble(3, extra=OBSERVED)
    ens.start()
    leader = ens.wait_leader()
    ports = {sid: printed_ports(ens.procs, ens.name(sid)) for sid in ens.sids}
    assert len({p for pair in ports.values() for p in pair}) == 6  # each its own

    metrics = wait_until(
        "the leader's metrics show 2 synced followers",
        lambda: (m := scrape(ports[leader][0])).get("synced_followers") == 2 and m,
    )
    assert metrics['server_state{state="leader"}'] == 1 and metrics["learners"] == 2
    assert metrics["quorum_size"] == 3 and metrics["pending_syncs"] == 0
    for sid in ens.sids:
        m = scrape(ports[sid][0])
        assert m["quorum_size"] == 3
        if sid != leader:
            assert m['server_state{state="follower"}'] == 1 and "learners" not in m
        lead = command(ports[sid][1], "leader")
        assert (lead["is_leader"], lead["leader_id"]) == (sid == leader, leader)
        assert sorted(command(ports[sid][1], "voting_view")["current_config"]) == ["1", "2", "3"]

    zk = kazoo(ens.hosts([leader]))
    try:
        zk.ensure_path("/m")
        for i in range(25):
            zk.create(f"/m/{i}")
    finally:
        zk.stop()
        zk.close()
    ens.wait_same_zxid()
    counts = {sid: scrape(ports[sid][0])["znode_count"] for sid in ens.sids}
    assert len(set(counts.values())) == 1, counts

    ens.kill(leader)
    rest = [s for s in ens.sids if s != leader]
    new = ens.wait_leader(rest)
    m = wait_until(
        "the new leader's metrics show 1 synced follower",
        lambda: (x := scrape(ports[new][0])).get("synced_followers") == 1 and x,
    )
    assert m['server_state{state="leader"}'] == 1 and m["znode_count"] == counts[new]


def test_a_member_without_quorum_says_so(ensemble: Callable[..., Ensemble]) -> None:
    """ZooKeeper's answers while a member cannot serve: most commands refuse, `monitor`
    and /metrics still tell that it is looking."""
    ens = ensemble(3, extra=OBSERVED)
    ens.start(1)
    metrics_port, admin_port = printed_ports(ens.procs, ens.name(1))
    m = wait_until("a lone member's metrics", lambda: scrape(metrics_port))
    assert m['server_state{state="looking"}'] == 1 and m["quorum_size"] == 3
    assert command(admin_port, "stat") == {
        "command": "stat",
        "error": "This ZooKeeper instance is not currently serving requests",
    }
    assert command(admin_port, "mntr")["server_state"] == "looking"
