"""The broker's partition log under a failed fsync (broker.log.partition_log): the failure
is never forgotten ("fsyncgate": after a failed fsync the kernel may have dropped the
dirty pages, so a later fsync that succeeds proves nothing). The recovery point never
moves past data whose fsync failed, every later flush fails, and the log refuses appends
until the broker restarts and recovery re-checks everything after the recovery point."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.log import LogConfig, PartitionLog
from broker.log.errors import LogStorageError
from storage.diskio import FaultPlan, injected
from tests.broker_log.helpers import make_batch


def test_a_failed_fsync_is_never_forgotten(tmp_path: Path) -> None:
    plog = PartitionLog.open(tmp_path / "t-0", LogConfig())
    plog.append(make_batch(3, 1000))
    plog.flush()
    assert plog.recovery_point == 3
    plog.append(make_batch(3, 1001))
    with injected(FaultPlan().fail_fsync(1, match=".log")), pytest.raises(OSError):
        plog.flush()
    assert plog.recovery_point == 3
    for _ in range(2):  # later flushes, the disk "working" again: still failed, rp stays
        with pytest.raises(LogStorageError):
            plog.flush()
        assert plog.recovery_point == 3
    with pytest.raises(LogStorageError):
        plog.append(make_batch(1, 1002))
    assert plog.log_end_offset == 6
    plog.close()

    reopened = PartitionLog.open(tmp_path / "t-0", LogConfig())  # a restart: recovery re-checks
    assert reopened.recovery_point == 3 and reopened.log_end_offset == 6
    reopened.append(make_batch(1, 1003))
    reopened.flush()
    assert reopened.recovery_point == 7
    reopened.close()


def test_a_rolled_segment_whose_fsync_failed_keeps_the_recovery_point_below_it(tmp_path: Path) -> None:
    plog = PartitionLog.open(tmp_path / "t-0", LogConfig(segment_bytes=200))
    for i in range(6):  # several segments, none flushed
        plog.append(make_batch(2, 1000 + i, value_size=40))
    assert len(plog.segments) > 2
    with injected(FaultPlan().fail_fsync(1, match=".log")), pytest.raises(OSError):
        plog.flush()
    with pytest.raises(LogStorageError):
        plog.flush()
    assert plog.recovery_point == 0
    plog.close()
