"""A clean shutdown while the periodic high-watermark checkpoint is being written.

Cancelling the checkpoint task does not stop its worker thread; if `close()` then writes
the final checkpoint beside it, both use the same temporary file and the second rename
fails with ENOENT, which counts as a broken disk: the broker's only log directory went
offline and a clean SIGTERM exited 1. The close must wait for the write in flight."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from broker.config import BrokerConfig
from broker.metadata.cache import MetadataCache
from broker.server.log_manager import LogManager
from broker.server.replica_manager import HW_CHECKPOINT, ReplicaManager
from storage.diskio import FaultPlan, injected
from tests.support.waiting import wait_until_async

HELD_LIMIT_S = 3.0  # a held fsync lets go after this even unreleased (the unfixed close blocks the loop)


async def test_close_waits_for_the_periodic_checkpoint_in_flight(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    config = BrokerConfig(log_dirs=str(tmp_path / "d1"), replica_high_watermark_checkpoint_interval_ms=10)
    logs = LogManager(config)
    logs.start()
    replicas = ReplicaManager(config, logs, MetadataCache())
    replicas.propose_isr = lambda part, proposal: None
    order = {"topic": "t", "partition": 0, "leader": 1, "leader_epoch": 0, "isr": [1], "replicas": [1], "zk_version": 0}
    assert replicas.leader_and_isr([order], {"t": {}}, 1) == [{"topic": "t", "partition": 0, "error": 0}]
    plan = FaultPlan().hold_fsync(match=f"{HW_CHECKPOINT}.tmp", limit=HELD_LIMIT_S)
    try:
        with injected(plan), caplog.at_level(logging.ERROR):
            replicas.start()  # its first pass writes the checkpoint, and waits in its fsync
            await wait_until_async("the periodic checkpoint held in its fsync", lambda: plan.fired, timeout=10)
            loops = list(replicas._tasks)
            closing = asyncio.ensure_future(replicas.close())  # the shutdown's step, that write in flight
            await wait_until_async("close() to cancel the loops", lambda: all(t.done() for t in loops), timeout=10)
            plan.release()
            await closing
        assert "cannot write" not in caplog.text, caplog.text
        assert logs.dirs.is_online(tmp_path / "d1")
        assert (tmp_path / "d1" / HW_CHECKPOINT).read_text().splitlines()[2:] == ["t 0 0"]
    finally:
        plan.release()
        await logs.close()
