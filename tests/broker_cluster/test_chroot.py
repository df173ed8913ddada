"""Two broker clusters on one coord, each under its own chroot (`zookeeper.connect=host:port/chroot`),
as Kafka deployments share a ZooKeeper ensemble: the same broker ids and topic names in both
without a clash, each cluster's records only in that cluster, a controller failover in one that
the other does not see, and the chroots made by the brokers with Kafka's persistent paths
(/config/users among them) inside."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from tests.broker_cluster.cluster import start_cluster
from tests.broker_server.wire import WireClient, create_topic
from tests.support.ports import free_port
from tests.support.procs import ProcessGroup, wait_for_port
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(importlib.util.find_spec("confluent_kafka") is None, reason="confluent-kafka is not installed"),
]


def test_two_clusters_under_two_chroots_of_one_coord(procs: ProcessGroup, tmp_path: Path):
    from tests.broker_security.test_sasl import confluent_roundtrip

    coord_port = free_port()
    procs.start(
        "coord",
        "coord",
        "start",
        "--id",
        "1",
        "--data-dir",
        str(tmp_path / "coord"),
        "--client-port",
        str(coord_port),
        "--tick-ms",
        "1000",
    )
    wait_for_port(coord_port)
    coord = f"127.0.0.1:{coord_port}"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    procs_b = ProcessGroup(tmp_path / "b")  # its own process names: both clusters have broker1, broker2
    root = KazooClient(hosts=coord)
    root.start(timeout=10)
    a = b = None
    try:
        a = start_cluster(procs, tmp_path / "a", n=2, coord=coord + "/kafka/a")  # a nested chroot, made by the brokers
        b = start_cluster(procs_b, tmp_path / "b", n=2, coord=coord + "/kafka-b")
        for cluster in (a, b):
            controller = wait_until("a controller", cluster.controller)[0]
            with WireClient(cluster.ports[controller]) as w:
                assert create_topic(w, "orders", 1, 2).error_code == 0
        assert (
            sorted(root.get_children("/kafka/a/brokers/ids"))
            == sorted(root.get_children("/kafka-b/brokers/ids"))
            == ["1", "2"]
        )
        assert not root.exists("/brokers") and not root.exists("/controller")
        for chroot in ("/kafka/a", "/kafka-b"):
            for path in (
                "/config/users",
                "/config/topics/orders",
                "/config/clients",
                "/config/brokers",
                "/config/changes",
                "/admin/delete_topics",
                "/isr_change_notification",
                "/consumers",
            ):
                assert root.exists(chroot + path), chroot + path
        assert confluent_roundtrip({"bootstrap.servers": a.bootstrap}, "orders", [b"a1", b"a2"]) == [b"a1", b"a2"]
        assert confluent_roundtrip({"bootstrap.servers": b.bootstrap}, "orders", [b"b1"]) == [b"b1"]

        # A's controller dies: A elects another through watches under its chroot; B's stays.
        a_controller, a_epoch = wait_until("a controller in A", a.controller)
        b_before = wait_until("a controller in B", b.controller)
        procs.kill(f"broker{a_controller}")
        wait_until("A's new controller", lambda: (c := a.controller()) is not None and c[0] != a_controller)
        assert a.controller()[1] > a_epoch
        assert b.controller() == b_before
        for name, group in ((f"broker{i}", g) for g in (procs, procs_b) for i in (1, 2)):
            if name in group.procs:
                assert "Traceback" not in group.log_text(name), group.log_text(name)
    finally:
        for cluster in (a, b):
            if cluster is not None:
                cluster.close()
        root.stop()
        root.close()
        procs_b.close()
