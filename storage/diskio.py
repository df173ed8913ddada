"""The writes and fsyncs of every storage engine, through one seam where tests inject faults.

coord's txn log, snapshots and epoch files and the broker's segments, indexes and
checkpoints call these functions instead of `os.write` / `os.fsync`, so a test can make
the machine misbehave exactly where it wants: fail the Nth write (EIO), cut a write short,
fail an fsync, fill the disk (ENOSPC on every write until space is freed), or hold
matching writes or fsyncs until the test lets them go (a disk slow to flush a big file). A
`FaultPlan` only decides (it does no I/O and reads no clock; a held call just waits for
the test), so the sans-I/O simulators consult the same plan for their simulated disks.

It lives in the neutral `storage` package, not in coord or the broker, because both
write through it and neither may depend on the other's internals for disk I/O; it is owned
by neither's storage format.

With no plan installed every call is the plain `os` call (one global read of overhead).
`write` and `pwrite` may return short, as the system calls do; `write_all` and
`pwrite_all` are what storage code wants: all the bytes or an OSError. This module must
never swallow an error, and never retry an fsync (after a failed fsync the kernel may
have dropped the dirty pages: a retry that succeeds proves nothing).
"""

from __future__ import annotations

import errno as E
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class _Rule:
    op: str  # "write" or "fsync"
    nth: int  # the nth matching call fires (1-based)
    error: int | None  # errno raised; None for a short write that returns quietly
    keep: int  # bytes (simulators: records) that reach the file first
    sticky: bool  # every later matching call fires too (a full disk) until heal()
    match: str  # substring of the file's path; "" matches every file
    seen: int = 0


class FaultPlan:
    """Which file operations go wrong, and how. Thread-safe; decisions only, no I/O.

    Each rule counts the calls whose path contains its `match` on its own; `fired` lists
    what was injected, for test messages."""

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._held: list[tuple[str, str, float]] = []  # (op, match, limit)
        self._released = threading.Event()
        self.fired: list[str] = []

    def fail_write(self, nth: int = 1, *, error: int = E.EIO, keep: int = 0, match: str = "") -> FaultPlan:
        """The nth write writes `keep` bytes, then raises OSError(error)."""
        return self._add(_Rule("write", nth, error, keep, False, match))

    def short_write(self, nth: int = 1, *, keep: int, match: str = "") -> FaultPlan:
        """The nth write writes only `keep` bytes and returns that count, as write(2) may."""
        return self._add(_Rule("write", nth, None, keep, False, match))

    def fail_fsync(self, nth: int = 1, *, error: int = E.EIO, match: str = "") -> FaultPlan:
        """The nth fsync (or fdatasync) raises OSError(error) without syncing."""
        return self._add(_Rule("fsync", nth, error, 0, False, match))

    def disk_full(self, nth: int = 1, *, keep: int = 0, match: str = "") -> FaultPlan:
        """From the nth write on, ENOSPC (the first of them lets `keep` bytes through)
        until `heal()`: space was freed."""
        return self._add(_Rule("write", nth, E.ENOSPC, keep, True, match))

    def hold_fsync(self, *, match: str, limit: float = 300.0) -> FaultPlan:
        """Every fsync of a matching file waits until `release()` (at most `limit`
        seconds, so a test that forgets cannot hang), then syncs: a slow disk."""
        self._held.append(("fsync", match, limit))
        return self

    def hold_write(self, *, match: str, limit: float = 300.0) -> FaultPlan:
        """Every write to a matching file waits until `release()` (at most `limit`
        seconds), then writes: a stalled disk under a write that is never fsynced."""
        self._held.append(("write", match, limit))
        return self

    def release(self) -> None:
        """Let held writes and fsyncs go, and hold no more."""
        self._held.clear()
        self._released.set()

    def heal(self) -> None:
        """Forget every rule: the disk works again."""
        with self._lock:
            self._rules.clear()
        self.release()

    def _add(self, rule: _Rule) -> FaultPlan:
        with self._lock:
            self._rules.append(rule)
        return self

    def _fire(self, op: str, path: str) -> _Rule | None:
        hit = None
        with self._lock:
            for rule in self._rules:
                if rule.op != op or rule.match not in path:
                    continue
                rule.seen += 1
                if hit is None and (rule.seen == rule.nth or (rule.sticky and rule.seen > rule.nth)):
                    hit = rule
            if hit is not None:
                self.fired.append(f"{op} {path}: {E.errorcode.get(hit.error or 0, 'short')}")
        return hit

    def _wait_if_held(self, op: str, path: str) -> None:
        for held_op, match, limit in list(self._held):
            if held_op == op and match in path:
                self.fired.append(f"{op} {path}: held")
                self._released.wait(limit)
                return

    def before_write(self, path: str, size: int) -> tuple[int, OSError | None]:
        """How many of `size` units reach the file, and the error raised after them."""
        self._wait_if_held("write", path)
        rule = self._fire("write", path)
        if rule is None:
            return size, None
        first = rule.seen == rule.nth
        keep = min(size, rule.keep if first else 0)
        if rule.error is None:
            return keep, None
        return keep, OSError(rule.error, f"{os.strerror(rule.error)} (injected)", path)

    def before_fsync(self, path: str) -> OSError | None:
        self._wait_if_held("fsync", path)
        rule = self._fire("fsync", path)
        if rule is None:
            return None
        assert rule.error is not None
        return OSError(rule.error, f"{os.strerror(rule.error)} (injected)", path)


_plan: FaultPlan | None = None


@contextmanager
def injected(plan: FaultPlan) -> Iterator[FaultPlan]:
    """Install `plan` for every thread of this process while the block runs."""
    global _plan
    previous, _plan = _plan, plan
    try:
        yield plan
    finally:
        _plan = previous


def _path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return f"fd {fd}"


def write(fd: int, data: bytes | bytearray | memoryview) -> int:
    """os.write: may write fewer bytes than given."""
    plan = _plan
    if plan is None:
        return os.write(fd, data)
    keep, error = plan.before_write(_path(fd), len(data))
    written = os.write(fd, memoryview(data)[:keep]) if keep else 0
    if error is not None:
        raise error
    return written


def pwrite(fd: int, data: bytes | bytearray | memoryview, offset: int) -> int:
    """os.pwrite: may write fewer bytes than given."""
    plan = _plan
    if plan is None:
        return os.pwrite(fd, data, offset)
    keep, error = plan.before_write(_path(fd), len(data))
    written = os.pwrite(fd, memoryview(data)[:keep], offset) if keep else 0
    if error is not None:
        raise error
    return written


def pwritev(fd: int, buffers: Sequence[bytes | bytearray | memoryview], offset: int) -> int:
    """os.pwritev: may write fewer bytes than given."""
    plan = _plan
    if plan is None:
        return os.pwritev(fd, buffers, offset)
    keep, error = plan.before_write(_path(fd), sum(len(b) for b in buffers))
    cut, left = [], keep
    for b in buffers:
        if left <= 0:
            break
        cut.append(memoryview(b)[:left])
        left -= len(cut[-1])
    written = os.pwritev(fd, cut, offset) if cut else 0
    if error is not None:
        raise error
    return written


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """Write every byte (at the file position) or raise OSError."""
    view = memoryview(data)
    while view:
        n = write(fd, view)
        if n <= 0:
            raise OSError(E.ENOSPC, f"write made no progress ({len(view)} bytes left); disk full?", _path(fd))
        view = view[n:]


def pwrite_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    """Write every byte at `offset` or raise OSError."""
    view = memoryview(data)
    while view:
        n = pwrite(fd, view, offset)
        if n <= 0:
            raise OSError(E.ENOSPC, f"write made no progress ({len(view)} bytes left); disk full?", _path(fd))
        view, offset = view[n:], offset + n


def fsync(fd: int) -> None:
    plan = _plan
    if plan is not None and (error := plan.before_fsync(_path(fd))) is not None:
        raise error
    os.fsync(fd)


def fdatasync(fd: int) -> None:
    plan = _plan
    if plan is not None and (error := plan.before_fsync(_path(fd))) is not None:
        raise error
    os.fdatasync(fd)
