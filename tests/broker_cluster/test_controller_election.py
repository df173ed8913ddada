"""Controller election across real broker processes against one coord server: one broker
wins /controller, the others stand by, and SIGKILL of the controller hands the role to a
survivor with a higher controller epoch once the dead broker's session expires; a
controller whose coord link drops twice, the second time mid re-election, acts again."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from tests.broker_cluster import cluster
from tests.broker_server.wire import WireClient, create_topic
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.cluster

SESSION_MS = 2000  # the smallest the coord below negotiates (2 x tick)


def start_cluster(procs: ProcessGroup, tmp: Path, n: int) -> tuple[int, list[int]]:
    coord_port, *ports = free_ports(n + 1)
    procs.start(
        "coord",
        "coord",
        "start",
        "--id",
        "1",
        "--data-dir",
        str(tmp / "coord"),
        "--client-port",
        str(coord_port),
        "--tick-ms",
        "1000",
    )
    wait_for_port(coord_port)
    for i, port in enumerate(ports, start=1):
        conf = tmp / f"broker{i}.toml"
        conf.write_text(f'"zookeeper.session.timeout.ms" = {SESSION_MS}\n')
        procs.start(
            f"broker{i}",
            "broker",
            "start",
            "--id",
            str(i),
            "--data-dir",
            str(tmp / f"b{i}"),
            "--port",
            str(port),
            "--coord",
            f"127.0.0.1:{coord_port}",
            "--config",
            str(conf),
        )
        wait_for_port(port, timeout=30)
    return coord_port, ports


def controller(zk: KazooClient) -> tuple[int, int] | None:
    """(holder, controller epoch), or None while /controller is vacant."""
    if zk.exists("/controller") is None:
        return None
    holder = json.loads(zk.get("/controller")[0])["brokerid"]
    return holder, int(zk.get("/controller_epoch")[0])


def test_one_controller_then_a_survivor_takes_over_after_sigkill(procs: ProcessGroup, tmp_path: Path):
    coord_port, ports = start_cluster(procs, tmp_path, 3)
    zk = KazooClient(hosts=f"127.0.0.1:{coord_port}")
    zk.start(timeout=10)
    try:
        assert sorted(zk.get_children("/brokers/ids")) == ["1", "2", "3"]
        first = controller(zk)
        assert first is not None and first[0] in (1, 2, 3), first
        holder, epoch = first
        survivor = next(i for i in (1, 2, 3) if i != holder)
        with WireClient(ports[survivor - 1]) as c:  # a standby refuses controller work
            assert create_topic(c, "t", partitions=1).error_code == 41
        procs.kill(f"broker{holder}")
        deadline = time.monotonic() + 30
        now = controller(zk)
        while (now is None or now[0] == holder) and time.monotonic() < deadline:
            time.sleep(0.1)
            now = controller(zk)
        assert now is not None and now[0] != holder and now[1] > epoch, (first, now)
        assert str(holder) not in zk.get_children("/brokers/ids")
        with WireClient(ports[now[0] - 1]) as c:  # the new controller creates topics
            assert create_topic(c, "t", partitions=1).error_code == 0
        for i in (1, 2, 3):
            assert "Traceback" not in procs.log_text(f"broker{i}"), procs.log_text(f"broker{i}")
    finally:
        zk.stop()
        zk.close()


def test_controller_acts_again_after_its_link_drops_during_its_reelection(procs: ProcessGroup, tmp_path: Path):
    """The QA run's hang, made exact: the controller's coord link drops (its session lives
    on, so it keeps /controller), comes back, and drops again while its re-election's
    first request is in flight. After the second reconnect a controller must act again:
    nobody else races, since /controller never changed, so the old broker must."""
    c = cluster.start_cluster(procs, tmp_path, 3, proxied=True)
    try:
        holder, epoch = wait_until("a controller", c.controller, timeout=30)
        proxy, log = c.coord_proxies[holder], f"broker{holder}"
        session = c.zk.exists(f"/brokers/ids/{holder}").ephemeralOwner
        wait_until("the controller acting", lambda: "is the controller (controller epoch" in procs.log_text(log))
        proxy.cut()
        wait_until("the controller to stop acting", lambda: "no longer acting as controller" in procs.log_text(log))
        proxy.reset_on(b"/controller_epoch")  # the re-election's first request: create /controller_epoch
        proxy.heal()
        wait_until("the re-election's request to be dropped", lambda: proxy.resets_on_marker == 1, timeout=15)

        def acting() -> tuple[int, int] | None:
            now = c.controller()
            live = now is not None and procs.procs[f"broker{now[0]}"].poll() is None
            return now if live and now is not None and now[1] > epoch else None

        now = wait_until("a live controller at a higher epoch", acting, timeout=20)
        with WireClient(c.ports[now[0]]) as client:
            wait_until("a topic create to succeed", lambda: create_topic(client, "t").error_code == 0, timeout=20)
        # The session outlived both drops (so the old broker kept /controller all along):
        assert c.zk.exists(f"/brokers/ids/{holder}").ephemeralOwner == session
        assert "session expired" not in procs.log_text(log)
        for i in (1, 2, 3):
            assert "Traceback" not in procs.log_text(f"broker{i}"), procs.log_text(f"broker{i}")
    finally:
        c.close()
