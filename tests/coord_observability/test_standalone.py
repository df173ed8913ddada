"""A real `coord start --metrics-port --admin-port` process under traffic: the metrics
and the AdminServer move exactly as the traffic says, and agree with `mntr`."""

from __future__ import annotations

import threading
from pathlib import Path

from kazoo.client import KazooClient

from coord.client.four_letter import four_letter
from coord.server.admin import PRIMARY_NAMES
from coord.server.metrics import GAUGES, OURS, SUMMARIES
from tests.coord_observability.conftest import Observed
from tests.coord_observability.observe import (
    command,
    families,
    get,
    scrape,
    wait_metric,
)
from tests.coord_server.conftest import start_coord
from tests.support.procs import ProcessGroup


def _kazoo(hosts: str) -> KazooClient:
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=15)
    return zk


def test_metrics_count_what_the_traffic_did(observed: Observed) -> None:
    port, hosts = observed.metrics_port, observed.coord.hosts
    before = scrape(port)
    zk = _kazoo(hosts)
    try:
        n = 40
        zk.ensure_path("/load")
        after_mkdir = scrape(port)
        for i in range(n):
            zk.create(f"/load/n{i}", b"x" * 10)
        m = scrape(port)
        assert m["znode_count"] == after_mkdir["znode_count"] + n
        assert m["approximate_data_size"] == after_mkdir["approximate_data_size"] + n * (len("/load/n0") + 10) + sum(
            len(str(i)) - 1 for i in range(n)
        )
        assert m["updatelatency_count"] >= after_mkdir["updatelatency_count"] + n
        for i in range(n):
            zk.get(f"/load/n{i}")
        r = scrape(port)
        assert r["readlatency_count"] >= m["readlatency_count"] + n
        assert r["packets_received"] >= m["packets_received"] + n
        assert r['server_state{state="standalone"}'] == 1

        # K more sessions: global_sessions and connections move by K, and back.
        k = 5
        others = [_kazoo(hosts) for _ in range(k)]
        s = scrape(port)
        assert s["global_sessions"] == before["global_sessions"] + 1 + k
        assert s["num_alive_connections"] == before["num_alive_connections"] + 1 + k
        for e, other in enumerate(others):
            other.create(f"/load/e{e}", ephemeral=True)
        assert scrape(port)["ephemerals_count"] == s["ephemerals_count"] + k
        for other in others:
            other.stop()
            other.close()
        back = wait_metric(port, "global_sessions", before["global_sessions"] + 1)
        assert back["ephemerals_count"] == s["ephemerals_count"]
        assert back["num_alive_connections"] == before["num_alive_connections"] + 1
    finally:
        zk.stop()
        zk.close()


def test_watches_are_counted_data_and_child_until_they_fire(observed: Observed) -> None:
    port = observed.metrics_port
    zk = _kazoo(observed.coord.hosts)
    try:
        zk.ensure_path("/w")
        base = scrape(port)["watch_count"]
        w = 7
        for i in range(w):
            zk.create(f"/w/n{i}")
            zk.get(f"/w/n{i}", watch=lambda _e: None)
        zk.get_children("/w", watch=lambda _e: None)
        assert scrape(port)["watch_count"] == base + w + 1
        assert command(observed.admin_port, "wchs")["num_total_watches"] == w
        zk.set("/w/n0", b"fires one data watch")
        zk.create("/w/new")  # fires the child watch
        wait_metric(port, "watch_count", base + w - 1)
    finally:
        zk.stop()
        zk.close()


def test_scrapes_under_write_load_stay_consistent(observed: Observed) -> None:
    """Writers never stop while we scrape; every scrape parses, the node count only
    grows, and after the writers join it is exactly what they created."""
    port, hosts = observed.metrics_port, observed.coord.hosts
    start = scrape(port)["znode_count"]
    created = [0, 0, 0]
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            zk = _kazoo(hosts)
            try:
                zk.ensure_path(f"/w{i}")
                for j in range(150):
                    zk.create(f"/w{i}/{j}")
                created[i] = 151
            finally:
                zk.stop()
                zk.close()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    seen = []
    while any(t.is_alive() for t in threads) and len(seen) < 500:
        seen.append(scrape(port)["znode_count"])
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert seen == sorted(seen) and len(seen) >= 2
    assert scrape(port)["znode_count"] == start + sum(created)


def test_metric_names_are_zookeepers(observed: Observed) -> None:
    fams = families(observed.metrics_port)
    zk_names = {n for n in fams if not n.startswith("process_")}
    assert zk_names <= set(GAUGES) | set(SUMMARIES) | set(OURS)
    for name in (
        "znode_count",
        "watch_count",
        "ephemerals_count",
        "global_sessions",
        "num_alive_connections",
        "outstanding_requests",
        "avg_latency",
        "min_latency",
        "max_latency",
        "approximate_data_size",
        "uptime",
    ):
        assert fams[name] == "gauge", name
    assert fams["readlatency"] == fams["updatelatency"] == "summary"
    assert {"quorum_size", "learners", "synced_followers"}.isdisjoint(fams)  # standalone
    assert 'readlatency{quantile="0.99"}' in scrape(observed.metrics_port)


def test_admin_commands_agree_with_the_four_letter_words(observed: Observed) -> None:
    admin, coord = observed.admin_port, observed.coord
    zk = _kazoo(coord.hosts)
    try:
        zk.create("/eph", ephemeral=True)
        zk.get("/eph", watch=lambda _e: None)
        text = four_letter("127.0.0.1", coord.port, "mntr", 5.0)
        mntr = dict(line.split("\t", 1) for line in text.splitlines())
        monitor = command(admin, "mntr")
        assert monitor["command"] == "monitor" and monitor["error"] is None
        assert {f"zk_{k}" for k in monitor} - {"zk_command", "zk_error"} == set(mntr)
        for key in ("znode_count", "ephemerals_count", "global_sessions", "watch_count"):
            assert str(monitor[key]) == mntr[f"zk_{key}"], key
        sid = zk.client_id[0]
        assert command(admin, "dump")["session_id_to_ephemeral_paths"] == {str(sid): ["/eph"]}
        assert command(admin, "wchc")["session_id_to_watched_paths"] == {str(sid): ["/eph"]}
        assert command(admin, "wchp")["path_to_session_ids"] == {"/eph": [sid]}
        cons = command(admin, "cons")["connections"]
        assert [c["session_id"] for c in cons] == [sid]
        stats = command(admin, "stat")
        assert stats["command"] == "stats" and stats["node_count"] == monitor["znode_count"]
        assert command(admin, "ruok") == {"command": "ruok", "error": None}
        assert command(admin, "leader")["error"] == "server is not initialized"
        assert command(admin, "nosuch") == {"command": "nosuch", "error": "Unknown command: nosuch"}
        links = get(admin, "/commands")[1]
        assert all(f'href="/commands/{name}"' in links for name in PRIMARY_NAMES)
        assert command(admin, "srst")["command"] == "stat_reset"
        assert command(admin, "srvr")["server_stats"]["packets_received"] <= 1
    finally:
        zk.stop()
        zk.close()


def test_ports_are_off_unless_configured(procs: ProcessGroup, tmp_path: Path) -> None:
    coord = start_coord(procs, tmp_path / "plain", "plain")
    four_letter("127.0.0.1", coord.port, "ruok", 5.0)  # it has started
    assert "Prometheus metrics on" not in procs.log_text("plain")
    assert "AdminServer on" not in procs.log_text("plain")


def test_a_taken_metrics_port_stops_the_start_with_its_address(procs: ProcessGroup, tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = procs.start_coord(
            "clash", "start", "--data-dir", str(tmp_path / "d"), "--client-port", "0", "--metrics-port", str(port)
        )
        assert proc.wait(timeout=30) == 1
    assert f"('127.0.0.1', {port}): address already in use" in procs.log_text("clash")
