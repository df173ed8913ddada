"""The broker's background flush and retention loops (broker.server.log_manager) survive
one partition's storage failure: they report it (log) and go on for the other partitions."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from broker.config import BrokerConfig
from broker.server.log_manager import LogManager
from storage.diskio import FaultPlan, injected
from tests.broker_log.helpers import make_batch
from tests.support.waiting import wait_until_async


async def test_the_flush_scheduler_goes_on_after_one_partition_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a failed fsync takes its whole log directory offline: b lives in another one
    lm = LogManager(
        BrokerConfig(
            log_dirs=f"{tmp_path}/d1,{tmp_path}/d2", log_flush_interval_messages=1, log_flush_scheduler_interval_ms=20
        )
    )
    lm.start()
    try:
        a, b = lm.open("a", 0, {}), lm.open("b", 0, {})
        with injected(FaultPlan().fail_fsync(1, match="/a-0/")) as plan:
            for plog, topic in ((a, "a"), (b, "b")):
                plog.append(make_batch(2, 1000))
                lm.appended(topic, 0)
            await wait_until_async(
                "the fault fired and the recovery point at 2", lambda: bool(plan.fired) and b.recovery_point == 2
            )
            for round_ in range(1, 4):  # later appends to b are still flushed
                b.append(make_batch(2, 1000 + round_))
                lm.appended("b", 0)
                await wait_until_async(
                    "the recovery point advancing", lambda round_=round_: b.recovery_point == 2 + 2 * round_
                )
        assert a.recovery_point == 0
        assert any("a-0" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    finally:
        await lm.close()


async def test_the_retention_loop_goes_on_after_one_partition_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lm = LogManager(
        BrokerConfig(
            data_dir=tmp_path, log_segment_bytes=200, log_retention_ms=1000, log_retention_check_interval_ms=20
        )
    )
    a, b = lm.open("a", 0, {}), lm.open("b", 0, {})
    for plog in (a, b):
        for i in range(4):  # ancient timestamps: every closed segment is past retention
            plog.append(make_batch(2, 1000 + i, value_size=40))
    assert len(a.segments) > 1 and len(b.segments) > 1
    with injected(FaultPlan().disk_full(1, match="/a-0/")):
        lm.start()
        try:
            await wait_until_async("one segment left", lambda: len(b.segments) == 1)
            for i in range(4):  # more old segments of b: the next passes delete them too
                b.append(make_batch(2, 2000 + i, value_size=40))
            await wait_until_async("one segment left", lambda: len(b.segments) == 1)
        finally:
            await lm.close()
    assert any("a-0" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
