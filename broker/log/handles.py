"""`FileHandleCache`: an LRU of open segment file descriptors shared by every partition.

A broker with 10,000 partitions must not hold 10,000+ descriptors: segments ask this
cache for a descriptor when they need one and it closes the least recently used ones
beyond `max_open`. A descriptor is pinned while in use (`with cache.pinned(path)`), so a
worker thread's fsync never races a close; pinned descriptors are never evicted, so the
cap may be exceeded briefly by the number of pins. Readers that keep data beyond the
call (fetch slices) take their own `dup` of the descriptor.

This module must never create files (a segment creates its file itself) nor read or
write file contents.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_ORPHAN = "\0forgotten:"


class _Entry:
    __slots__ = ("fd", "pins")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pins = 0


class FileHandleCache:
    def __init__(self, max_open: int = 1024) -> None:
        if max_open < 1:
            raise ValueError(f"max_open must be at least 1, not {max_open}")
        self.max_open = max_open
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def acquire(self, path: Path | str) -> int:
        """Open (or reuse) `path` read-write and pin it; pair with `release`."""
        key = str(path)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = _Entry(os.open(key, os.O_RDWR | os.O_CLOEXEC))
                self._entries[key] = entry
                self._evict()
            else:
                self._entries.move_to_end(key)
            entry.pins += 1
            return entry.fd

    def release(self, path: Path | str) -> None:
        key = str(path)
        with self._lock:
            orphan = self._entries.get(_ORPHAN + key)
            if orphan is not None:  # the forgotten descriptor's holders release first
                orphan.pins -= 1
                if orphan.pins <= 0:
                    os.close(self._entries.pop(_ORPHAN + key).fd)
            elif (entry := self._entries.get(key)) is not None:
                entry.pins -= 1
            self._evict()

    @contextmanager
    def pinned(self, path: Path | str) -> Iterator[int]:
        fd = self.acquire(path)
        try:
            yield fd
        finally:
            self.release(path)

    def forget(self, path: Path | str) -> None:
        """Close `path`'s descriptor (the file is being deleted or renamed).

        A pinned descriptor is left to its holder's `release`, which closes it.
        """
        with self._lock:
            entry = self._entries.pop(str(path), None)
            if entry is not None and entry.pins <= 0:
                os.close(entry.fd)
            elif entry is not None:
                # Still pinned by another thread: its release closes it.
                self._entries[_ORPHAN + str(path)] = entry

    def close(self) -> None:
        with self._lock:
            for entry in self._entries.values():
                os.close(entry.fd)
            self._entries.clear()

    def _evict(self) -> None:
        if len(self._entries) <= self.max_open:
            return
        for key in [k for k, e in self._entries.items() if e.pins <= 0]:
            if len(self._entries) <= self.max_open:
                break
            os.close(self._entries.pop(key).fd)
