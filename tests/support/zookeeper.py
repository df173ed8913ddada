"""Real Apache ZooKeeper for tests: a thin layer over launchers.zookeeper.

`running_zookeeper()` yields the connect string; tests that need to restart or pause the
server use `ZooKeeperProcess` directly. `require_zookeeper()` skips (with the reason)
only when ZooKeeper is not installed on this machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from launchers.zookeeper import ZooKeeperNotInstalledError, ZooKeeperProcess, zookeeper_classpath
from launchers.zookeeper import running_zookeeper as _running

__all__ = ["ZooKeeperProcess", "require_zookeeper", "running_zookeeper"]


def require_zookeeper() -> None:
    try:
        zookeeper_classpath()
    except ZooKeeperNotInstalledError as e:
        pytest.skip(str(e))


@contextmanager
def running_zookeeper(**kwargs: object) -> Iterator[str]:
    """A fresh standalone ZooKeeper on a free loopback port; yields "127.0.0.1:PORT"."""
    require_zookeeper()
    with _running(**kwargs) as zk:
        yield zk.hosts
