"""zkCli.sh `setquota -n 5 /p` then `listquota /p`: ZooKeeper keeps
/zookeeper/quota/p/zookeeper_stats up to date (count = the node and its descendants,
bytes = their data), computing it when the stats node is created and on every create,
delete and setData below /p. Checked against real ZooKeeper 3.8 too."""

from __future__ import annotations

import pytest
from kazoo.client import KazooClient

STATS = "/zookeeper/quota/qaq/zookeeper_stats"


def _quota_stats_after_writes(hosts: str) -> tuple[bytes, bytes]:
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=20)
    try:
        zk.create("/qaq/a", b"", makepath=True)
        # what zkCli's setquota writes: the limits node, then the stats node
        zk.create("/zookeeper/quota/qaq/zookeeper_limits", b"count=5,bytes=-1", makepath=True)
        zk.create(STATS, b"count=0,bytes=0")
        after_setquota = zk.get(STATS)[0]
        zk.create("/qaq/b", b"12345")
        after_create = zk.get(STATS)[0]
        zk.delete("/qaq", recursive=True)
        zk.delete("/zookeeper/quota/qaq", recursive=True)
        return after_setquota, after_create
    finally:
        zk.stop()
        zk.close()


@pytest.mark.zookeeper
def test_real_zookeeper_counts_the_quota_subtree(real_zookeeper):
    assert _quota_stats_after_writes(real_zookeeper) == (b"count=2,bytes=0", b"count=3,bytes=5")


def test_coord_counts_the_quota_subtree(shared_coord):
    assert _quota_stats_after_writes(shared_coord.hosts) == (b"count=2,bytes=0", b"count=3,bytes=5")
