"""The fault-injecting file layer (storage.diskio) on real files: each fault does what it says,
and only to the files and calls it names."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from storage import diskio
from storage.diskio import FaultPlan, injected


def _open(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


def test_without_a_plan_the_calls_are_the_plain_ones(tmp_path: Path) -> None:
    fd = _open(tmp_path / "f")
    try:
        diskio.write_all(fd, b"abc")
        assert diskio.pwritev(fd, [b"de", b"f"], 3) == 3
        diskio.fsync(fd)
        diskio.fdatasync(fd)
    finally:
        os.close(fd)
    assert (tmp_path / "f").read_bytes() == b"abcdef"


def test_fail_the_nth_write_lets_keep_bytes_through_then_raises(tmp_path: Path) -> None:
    fd = _open(tmp_path / "f")
    try:
        with injected(FaultPlan().fail_write(2, keep=2)) as plan:
            diskio.write_all(fd, b"one")
            with pytest.raises(OSError) as err:
                diskio.write_all(fd, b"two")
            assert err.value.errno == errno.EIO
            diskio.write_all(fd, b"three")  # only the nth fails
        assert len(plan.fired) == 1
    finally:
        os.close(fd)
    assert (tmp_path / "f").read_bytes() == b"onetwthree"


def test_a_short_write_returns_short_and_write_all_finishes_it(tmp_path: Path) -> None:
    fd = _open(tmp_path / "f")
    try:
        with injected(FaultPlan().short_write(1, keep=1)):
            assert diskio.write(fd, b"ab") == 1
        with injected(FaultPlan().short_write(1, keep=1)):
            diskio.write_all(fd, b"cd")
    finally:
        os.close(fd)
    assert (tmp_path / "f").read_bytes() == b"acd"


def test_a_failed_fsync_raises_once(tmp_path: Path) -> None:
    fd = _open(tmp_path / "f")
    try:
        with injected(FaultPlan().fail_fsync(1)):
            with pytest.raises(OSError):
                diskio.fdatasync(fd)
            diskio.fsync(fd)
    finally:
        os.close(fd)


def test_a_full_disk_refuses_every_write_to_matching_files_until_healed(tmp_path: Path) -> None:
    full, other = _open(tmp_path / "full.log"), _open(tmp_path / "other")
    try:
        with injected(FaultPlan().disk_full(1, keep=1, match="full.log")) as plan:
            for _ in range(3):
                with pytest.raises(OSError) as err:
                    diskio.pwritev(full, [b"xy"], 0)
                assert err.value.errno == errno.ENOSPC
            diskio.write_all(other, b"fine")
            plan.heal()
            diskio.write_all(full, b"z")
    finally:
        os.close(full)
        os.close(other)
    assert (tmp_path / "full.log").read_bytes() == b"xz"
    assert (tmp_path / "other").read_bytes() == b"fine"


def test_the_plan_is_a_pure_decision_the_simulators_can_consult() -> None:
    plan = FaultPlan().fail_write(2, keep=1, match="node-1").fail_fsync(1, match="node-2")
    assert plan.before_write("node-1/log", 3) == (3, None)
    kept, error = plan.before_write("node-1/log", 3)
    assert kept == 1 and error is not None and error.errno == errno.EIO
    assert plan.before_write("node-2/log", 3) == (3, None)
    assert plan.before_fsync("node-1/log") is None
    assert plan.before_fsync("node-2/log") is not None
