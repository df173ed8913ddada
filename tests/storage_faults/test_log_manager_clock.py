"""flush.ms is a duration: the log manager's flush scheduler measures it on the monotonic
clock, so a step of the wall clock (NTP, an operator's `date -s`) neither postpones a due
flush for as long as the step nor flushes early."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from broker.config import BrokerConfig
from broker.server.log_manager import LogManager
from tests.broker_log.helpers import make_batch


async def test_flush_ms_is_kept_when_the_wall_clock_steps_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lm = LogManager(BrokerConfig(data_dir=tmp_path, log_flush_interval_ms=300, log_flush_scheduler_interval_ms=20))
    lm.start()
    try:
        plog = lm.open("t", 0, {})
        plog.append(make_batch(2, 1000))
        lm.appended("t", 0)
        await asyncio.sleep(0.1)  # the scheduler has seen the partition dirty
        wall = time.time
        monkeypatch.setattr(time, "time", lambda: wall() - 3600)  # the wall clock steps back an hour
        for _ in range(100):  # bounded: 5 s, far beyond flush.ms
            if plog.recovery_point == 2:
                break
            await asyncio.sleep(0.05)
        assert plog.recovery_point == 2, "flush.ms waited for the wall clock to catch up"
    finally:
        monkeypatch.undo()
        await lm.close()
