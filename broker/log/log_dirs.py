"""The broker's log directories (Kafka's `log.dirs`): where each partition's log lives,
which directories are online, and which I/O errors take one offline.

A partition lives in exactly one directory: the one that already holds it, else the
online directory holding the fewest partitions (Kafka's placement, ties to the first
listed). An I/O error in a directory (EIO, EROFS, a failed fsync, ...) takes the whole
directory offline for the rest of this run, as Kafka does: a disk that failed once is not
trusted again until an operator restarts the broker with it fixed or replaced. A full disk
(ENOSPC, EDQUOT) is not a broken disk: that write is refused and the directory stays
online, so it takes writes again once space is freed; running out of descriptors or
memory is not the disk's fault either. A directory that cannot even be listed at start
is offline from the start, and since nobody knows what it held, no partition missing
from the online directories is created elsewhere (it may be the only copy's home).

Thread-safe (flushes and retention report errors from worker threads). This module must
never open, close or write logs (it only creates a missing log directory): it decides
and remembers.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Sequence
from pathlib import Path

from .errors import LogDirOfflineError, LogDirsConflictError

# OSErrors that say nothing about the disk's health.
_NOT_A_DISK_FAILURE = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EINTR, errno.EAGAIN}
)


def is_disk_failure(exc: BaseException) -> bool:
    """Whether `exc`, raised by a storage operation, means its directory is broken.

    A `LogStorageError` (an earlier fsync failed) has no errno and counts: the log cannot
    be trusted again in this run."""
    return isinstance(exc, OSError) and exc.errno not in _NOT_A_DISK_FAILURE


def _is_partition_dir(path: Path) -> bool:
    topic, sep, partition = path.name.rpartition("-")
    return bool(sep and topic and partition.isdigit()) and path.is_dir()


class LogDirs:
    def __init__(self, paths: Sequence[Path]) -> None:
        if not paths:
            raise ValueError("a broker needs at least one log directory")
        self.paths = list(dict.fromkeys(Path(p) for p in paths))
        self._offline: dict[Path, str] = {}  # directory -> why
        self._unscanned: set[Path] = set()  # offline since start: what it holds is unknown
        self._where: dict[str, Path] = {}  # partition directory name -> its log directory
        self._lock = threading.Lock()

    def scan(self) -> None:
        """Create missing directories and learn which partitions each holds; a directory
        that cannot be read is offline from the start. Raises LogDirOfflineError if no
        directory is usable, and LogDirsConflictError if one partition is in two."""
        for path in self.paths:
            try:
                path.mkdir(parents=True, exist_ok=True)
                names = [child.name for child in path.iterdir() if _is_partition_dir(child)]
            except OSError as exc:
                self._offline[path] = f"unreadable at start: {exc}"
                self._unscanned.add(path)
                continue
            for name in names:
                if self._where.get(name, path) != path:
                    raise LogDirsConflictError(
                        f"partition {name} is in two log directories, {self._where[name]} and "
                        f"{path}; remove the stale copy"
                    )
                self._where[name] = path
        if not self.online():
            raise LogDirOfflineError(f"no usable log directory: {self.describe_offline()}")

    def online(self) -> list[Path]:
        with self._lock:
            return [p for p in self.paths if p not in self._offline]

    def is_online(self, path: Path) -> bool:
        with self._lock:
            return path not in self._offline

    def describe_offline(self) -> str:
        with self._lock:
            return "; ".join(f"{p} ({why})" for p, why in self._offline.items()) or "none"

    def place(self, name: str) -> Path:
        """The log directory for partition directory `name` (remembered from now on);
        LogDirOfflineError if its directory, or one that may hold it, is offline."""
        with self._lock:
            where = self._where.get(name)
            if where is not None:
                if where in self._offline:
                    raise LogDirOfflineError(f"{name}: its log directory {where} is offline ({self._offline[where]})")
                return where
            if self._unscanned:
                raise LogDirOfflineError(
                    f"{name} is in no online log directory and {', '.join(map(str, sorted(self._unscanned)))} "
                    f"could not be read at start (it may hold the only copy); not creating it elsewhere"
                )
            online = [p for p in self.paths if p not in self._offline]
            if not online:
                raise LogDirOfflineError(f"{name}: every log directory is offline")
            load = dict.fromkeys(online, 0)
            for held in self._where.values():
                if held in load:
                    load[held] += 1
            chosen = min(online, key=lambda p: load[p])  # min keeps the first of equals
            self._where[name] = chosen
            return chosen

    def location(self, name: str) -> Path | None:
        """Where partition directory `name` lives, if known (never places it)."""
        with self._lock:
            return self._where.get(name)

    def forget(self, name: str) -> None:
        """Partition directory `name` was deleted."""
        with self._lock:
            self._where.pop(name, None)

    def fail(self, path: Path, why: str) -> bool:
        """Take `path` offline; True if it was online until now."""
        with self._lock:
            if path in self._offline or path not in self.paths:
                return False
            self._offline[path] = why
            return True
