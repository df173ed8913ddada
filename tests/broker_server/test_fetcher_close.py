"""Stopping a broker ends its replica fetchers even when the cancel meets a fetcher whose
wait has just been woken (Python 3.11's asyncio.wait_for then returns the result and drops
the cancel). Seen as a broker that did not stop in 15 s after a log directory failed: the
controlled shutdown made it a follower (a fetcher started, woken) just as it stopped."""

from __future__ import annotations

import asyncio
from pathlib import Path

from broker.config import BrokerConfig
from broker.metadata.cache import MetadataCache
from broker.server.fetcher import FetcherManager, _Fetcher
from broker.server.log_manager import LogManager
from broker.server.replica_manager import ReplicaManager
from tests.support.waiting import wait_until_async


async def test_close_ends_a_fetcher_woken_as_it_is_cancelled(tmp_path: Path) -> None:
    config = BrokerConfig(data_dir=tmp_path)
    cache = MetadataCache()
    manager = FetcherManager(config, cache, ReplicaManager(config, LogManager(config), cache))
    fetcher = manager.fetchers[2] = _Fetcher(manager, 2)  # a leader no partition follows yet: it waits
    # until its task waits on `wake` (an Event's waiters are its one trace of that)
    await wait_until_async("the fetcher to wait for orders", lambda: bool(fetcher.wake._waiters), timeout=10)
    fetcher.wake.set()  # new orders arrived (sync), and in the same instant the broker stops
    await asyncio.wait_for(manager.close(), 10)
    assert fetcher.task.done()
