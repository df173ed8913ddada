"""The core's in-memory view of its transaction log (the shell owns the durable copy).

Entries above the last snapshot, in strictly increasing zxid order. The core asks the
shell to make every change durable through actions; this class must never do I/O.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from coord.zab.messages import Entry


@dataclass(frozen=True)
class Snapshot:
    """The shell's state machine image at zxid (what SNAP ships)."""
    zxid: int
    data: bytes


def epoch_of(zxid: int) -> int:
    return zxid >> 32


def make_zxid(epoch: int, counter: int) -> int:
    return (epoch << 32) | counter


class History:
    """Snapshot position plus the log entries after it."""

    def __init__(self, snap_zxid: int = 0, entries: list[Entry] | None = None) -> None:
        self.snap_zxid = snap_zxid
        self._zxids: list[int] = []
        self._data: list[bytes] = []
        for zxid, data in entries or []:
            self.append(zxid, data)

    @property
    def last_zxid(self) -> int:
        return self._zxids[-1] if self._zxids else self.snap_zxid

    def append(self, zxid: int, data: bytes) -> None:
        if zxid <= self.last_zxid:
            raise ValueError(f"zxid {zxid:#x} does not follow {self.last_zxid:#x}")
        self._zxids.append(zxid)
        self._data.append(data)

    def contains(self, zxid: int) -> bool:
        """True if zxid is the snapshot point or a logged entry."""
        if zxid == self.snap_zxid:
            return True
        i = bisect.bisect_left(self._zxids, zxid)
        return i < len(self._zxids) and self._zxids[i] == zxid

    def floor(self, zxid: int) -> int:
        """Greatest position in this history that is <= zxid (snapshot point at least)."""
        i = bisect.bisect_right(self._zxids, zxid)
        return self._zxids[i - 1] if i else self.snap_zxid

    def after(self, zxid: int, limit: int | None = None) -> list[Entry]:
        """Entries with zxid > `zxid` (which must be >= snap_zxid), oldest first."""
        i = bisect.bisect_right(self._zxids, zxid)
        j = len(self._zxids) if limit is None else min(len(self._zxids), i + limit)
        return list(zip(self._zxids[i:j], self._data[i:j]))

    def between(self, low: int, high: int) -> list[Entry]:
        """Entries with low < zxid <= high."""
        i = bisect.bisect_right(self._zxids, low)
        j = bisect.bisect_right(self._zxids, high)
        return list(zip(self._zxids[i:j], self._data[i:j]))

    def truncate(self, zxid: int) -> None:
        """Drop entries above zxid."""
        i = bisect.bisect_right(self._zxids, zxid)
        del self._zxids[i:], self._data[i:]

    def compact(self, zxid: int) -> None:
        """Forget entries up to zxid: a snapshot now covers them."""
        i = bisect.bisect_right(self._zxids, zxid)
        del self._zxids[:i], self._data[:i]
        self.snap_zxid = max(self.snap_zxid, zxid)

    def reset(self, snap_zxid: int) -> None:
        """Everything replaced by a snapshot at snap_zxid."""
        self._zxids.clear()
        self._data.clear()
        self.snap_zxid = snap_zxid
