"""The core's in-memory view of its transaction log (the shell owns the durable copy).

Entries above the last snapshot, in strictly increasing zxid order. The core asks the
shell to make every change durable through actions; this class must never do I/O.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Protocol

from coord.zab.messages import Entry


class SnapshotImage(Protocol):
    """A serialized state machine image at zxid, which SNAP ships a chunk at a time.

    The core only names byte ranges of it; the shell reads them (`read`), so an image of
    several hundred MiB is never held in memory by the core, nor by the shell if its
    image is a file."""

    @property
    def zxid(self) -> int: ...
    @property
    def size(self) -> int: ...
    def read(self, offset: int, size: int) -> bytes: ...


@dataclass(frozen=True)
class Snapshot:
    """An image held in memory (the simulator's; a server's empty tree)."""

    zxid: int
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def read(self, offset: int, size: int) -> bytes:
        return self.data[offset : offset + size]


# What an entry costs in a message beyond its data (its zxid and msgpack framing), so
# that a batch of many small entries is bounded as well as one of few large ones.
ENTRY_OVERHEAD = 16


def entry_size(entry: Entry) -> int:
    return len(entry[1]) + ENTRY_OVERHEAD


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
        return list(zip(self._zxids[i:j], self._data[i:j], strict=True))

    def batch_after(self, zxid: int, max_bytes: int, upto: int | None = None) -> list[Entry]:
        """Entries with zxid > `zxid` (and <= `upto`), oldest first, as many as fit in
        `max_bytes` (`entry_size` each) but at least one: what one bounded message carries."""
        i = bisect.bisect_right(self._zxids, zxid)
        j = len(self._zxids) if upto is None else bisect.bisect_right(self._zxids, upto)
        out: list[Entry] = []
        total = 0
        while i < j:
            total += len(self._data[i]) + ENTRY_OVERHEAD
            if out and total > max_bytes:
                break
            out.append((self._zxids[i], self._data[i]))
            i += 1
        return out

    def between(self, low: int, high: int) -> list[Entry]:
        """Entries with low < zxid <= high."""
        i = bisect.bisect_right(self._zxids, low)
        j = bisect.bisect_right(self._zxids, high)
        return list(zip(self._zxids[i:j], self._data[i:j], strict=True))

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
