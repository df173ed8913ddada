"""coord's txn log under write faults: `append` returns only once every byte of every
entry is written and fsynced, and raises otherwise (coord.server.txnlog)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from coord.server import txn as T
from coord.server.txn import Txn
from coord.server.txnlog import TxnLog
from storage.diskio import FaultPlan, injected


def _entry(zxid: int) -> bytes:
    return Txn(zxid, 1000 + zxid, 5, T.CREATE, [f"/n{zxid}", b"d" * 100, [[31, "world", "anyone"]], 0]).pack()


def test_an_append_cut_short_by_the_kernel_is_finished_before_it_returns(tmp_path: Path) -> None:
    log = TxnLog(tmp_path / "log")
    log.roll(1)
    with injected(FaultPlan().short_write(1, keep=7, match="log.")) as plan:
        log.append([_entry(1), _entry(2)])
    log.close()
    assert plan.fired, "the short write was not injected"
    assert [t.zxid for t in TxnLog(tmp_path / "log").read_all()] == [1, 2]


def test_an_append_that_cannot_write_every_byte_raises(tmp_path: Path) -> None:
    log = TxnLog(tmp_path / "log")
    log.roll(1)
    log.append([_entry(1)])
    with injected(FaultPlan().disk_full(1, keep=7, match="log.")), pytest.raises(OSError) as err:
        log.append([_entry(2)])
    assert err.value.errno == errno.ENOSPC
    log.close()
    reread = TxnLog(tmp_path / "log")
    assert [t.zxid for t in reread.read_all()] == [1]
    assert reread.truncated is not None  # the partial entry was a torn tail


def test_a_failed_fsync_fails_the_append(tmp_path: Path) -> None:
    log = TxnLog(tmp_path / "log")
    log.roll(1)
    with injected(FaultPlan().fail_fsync(1, match="log.")), pytest.raises(OSError):
        log.append([_entry(1)])
    log.close()


def test_a_short_write_of_the_segment_header_is_finished(tmp_path: Path) -> None:
    log = TxnLog(tmp_path / "log")
    with injected(FaultPlan().short_write(1, keep=3, match="log.")):
        log.roll(1)
    log.append([_entry(1)])
    log.close()
    assert [t.zxid for t in TxnLog(tmp_path / "log").read_all()] == [1]


def test_an_entry_larger_than_64_mib_reads_back(tmp_path: Path) -> None:
    """A closeSession listing very many ephemerals can be a huge txn; once written and
    acknowledged it must read back at the next start, not pass for a torn tail."""
    big = Txn(2, 1000, 5, T.CREATE, ["/big", b"d" * (65 << 20), [[31, "world", "anyone"]], 0]).pack()
    log = TxnLog(tmp_path / "log")
    log.roll(1)
    log.append([_entry(1), big])
    log.close()
    reread = TxnLog(tmp_path / "log")
    assert [t.zxid for t in reread.read_all()] == [1, 2]
    assert reread.truncated is None


def test_a_roll_that_fails_leaves_the_log_appending_to_its_current_segment(tmp_path: Path) -> None:
    """A snapshot rolls the log; on a full disk the new segment's header cannot be written.
    The snapshot fails, but the log must stay whole: later appends go to the segment it had."""
    log = TxnLog(tmp_path / "log")
    log.roll(1)
    log.append([_entry(1)])
    with injected(FaultPlan().disk_full(1, match="log.0000000000000002")), pytest.raises(OSError):
        log.roll(2)
    log.append([_entry(2)])
    log.close()
    assert [t.zxid for t in TxnLog(tmp_path / "log").read_all()] == [1, 2]
