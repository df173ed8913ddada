"""Controller election across real broker processes against one coord server: one broker
wins /controller, the others stand by, and SIGKILL of the controller hands the role to a
survivor with a higher controller epoch once the dead broker's session expires."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from tests.broker_server.wire import WireClient, create_topic
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port

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
