"""Every write of the broker's small files is whole or an error: checkpoints (temp file,
fsync, rename) and index appends, under injected short writes and full disks."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from broker.log import LogConfig, PartitionLog
from broker.log.checkpoint import read_checkpoint, write_checkpoint
from broker.log.index import OffsetIndex
from storage.diskio import FaultPlan, injected
from tests.broker_log.helpers import make_batch


def test_a_checkpoint_cut_short_by_the_kernel_is_finished(tmp_path: Path) -> None:
    path = tmp_path / "recovery-point-checkpoint"
    with injected(FaultPlan().short_write(1, keep=3, match="checkpoint")) as plan:
        write_checkpoint(path, [(1234, 56)])
    assert plan.fired
    assert read_checkpoint(path, 2) == [(1234, 56)]


def test_a_checkpoint_that_cannot_be_written_leaves_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "recovery-point-checkpoint"
    write_checkpoint(path, [(1, 0)])
    with injected(FaultPlan().disk_full(1, keep=3, match="checkpoint")), pytest.raises(OSError) as err:
        write_checkpoint(path, [(1234, 56)])
    assert err.value.errno == errno.ENOSPC
    assert read_checkpoint(path, 2) == [(1, 0)]


def test_an_index_append_cut_short_is_finished(tmp_path: Path) -> None:
    index = OffsetIndex(tmp_path / "0.index")
    for i in range(4):
        index.append(10 * i + 9, 100 * i)
    with injected(FaultPlan().short_write(1, keep=5, match=".index")):
        index.write_pending(2, sync=False)
    index.write_pending(4, sync=False)
    loaded, whole = OffsetIndex.load(tmp_path / "0.index")
    assert whole and list(loaded.keys) == list(index.keys) and list(loaded.values) == list(index.values)


def test_a_full_disk_at_an_index_write_is_not_a_failed_fsync(tmp_path: Path) -> None:
    """Indexes are derived data: a flush whose index append hits a full disk still makes
    the records durable, and the log takes writes again once there is space."""
    plog = PartitionLog.open(tmp_path / "t-0", LogConfig(index_interval_bytes=1))
    for i in range(3):
        plog.append(make_batch(3, 1000 + i))
    with injected(FaultPlan().disk_full(1, match=".index")) as plan:
        plog.flush()
    assert plan.fired
    assert plog.recovery_point == 9 and plog.storage_error is None
    plog.append(make_batch(3, 1003))
    plog.flush()
    assert plog.recovery_point == 12
    plog.close()
    assert PartitionLog.open(tmp_path / "t-0", LogConfig()).log_end_offset == 12
