"""The transaction log: append-only files of framed transactions, fsynced before any reply.

On-disk format (directory ``<data-dir>/log``):

- One file per segment, named ``log.<first zxid as 16 hex digits>``; a new segment starts
  after every snapshot, so old segments can be purged with their snapshots.
- Each file starts with the 8-byte magic ``PBZKLOG1``, then entries back to back:
  ``u32 length | u32 crc32c(body) | body`` (big-endian), body = the msgpack `Txn`.
- Entries have strictly increasing zxids, within a file and across files.

Recovery (`read_all`): a bad entry at the very end of the newest segment (cut short, or
failing its crc with nothing after it, or followed only by zero bytes) is a torn write
from a crash and is truncated away; that entry was never acknowledged because replies
wait for fsync. Any other bad entry (in an older segment, or with good data after it, or
zxids going backwards) is corruption: `TxnLogCorruptionError` is raised and the server refuses
to start rather than silently lose or invent committed state.

This module does blocking file I/O and is meant to run on a worker thread; it must never
touch the event loop, and never acknowledge anything itself (the caller replies only
after `append` has returned, i.e. after fsync).
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import crc32c

from coord.server.txn import Txn
from storage import diskio

MAGIC = b"PBZKLOG1"
_HEAD = struct.Struct(">II")


class TxnLogCorruptionError(Exception):
    """The log holds damage that is not a torn tail; starting would lose committed data."""


def frame(body: bytes) -> bytes:
    return _HEAD.pack(len(body), crc32c.crc32c(body)) + body


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        diskio.fsync(fd)
    finally:
        os.close(fd)


def segment_name(first_zxid: int) -> str:
    return f"log.{first_zxid:016x}"


def list_by_zxid(directory: Path, prefix: str) -> list[tuple[int, Path]]:
    """Files named `<prefix>.<hex zxid>`, sorted by that zxid (others ignored)."""
    out = []
    for p in directory.glob(f"{prefix}.*"):
        try:
            out.append((int(p.name[len(prefix) + 1 :], 16), p))
        except ValueError:
            continue
    return sorted(out)


def list_segments(log_dir: Path) -> list[tuple[int, Path]]:
    return list_by_zxid(log_dir, "log")


class _Scan:
    """The result of reading one segment: its entries, where each starts, and where its
    good data ends."""

    def __init__(self, txns: list[Any], starts: list[int], good_end: int, bad: str | None) -> None:
        self.txns, self.starts, self.good_end, self.bad = txns, starts, good_end, bad


def _scan(buf: bytes, name: str, decode: Callable[[bytes], Any] = Txn.unpack) -> _Scan:
    if buf[: len(MAGIC)] != MAGIC:
        if len(buf) < len(MAGIC) and MAGIC.startswith(buf):
            return _Scan([], [], 0, "torn header")
        raise TxnLogCorruptionError(f"{name}: not a pybroker coord log (bad magic)")
    pos = len(MAGIC)
    txns: list[Any] = []
    starts: list[int] = []
    while pos < len(buf):
        if pos + _HEAD.size > len(buf):
            return _Scan(txns, starts, pos, "short entry header")
        length, crc = _HEAD.unpack_from(buf, pos)
        end = pos + _HEAD.size + length
        if end > len(buf):  # no size cap: any entry the writer wrote must read back
            return _Scan(txns, starts, pos, f"entry at byte {pos} runs past the end of the file")
        body = buf[pos + _HEAD.size : end]
        if crc32c.crc32c(body) != crc:
            return _Scan(txns, starts, pos, f"entry at byte {pos} fails its crc")
        try:
            txns.append(decode(body))
        except Exception as e:  # noqa: BLE001 - any decode failure is the same damage
            return _Scan(txns, starts, pos, f"entry at byte {pos} does not decode ({e})")
        starts.append(pos)
        pos = end
    return _Scan(txns, starts, pos, None)


def _is_torn_tail(buf: bytes, bad_at: int) -> bool:
    """A bad entry is a torn tail if nothing but it (or zeros) follows."""
    if bad_at + _HEAD.size > len(buf):
        return True
    length, _ = _HEAD.unpack_from(buf, bad_at)
    end = bad_at + _HEAD.size + length
    return end >= len(buf) or not any(buf[end:])


class TxnLog:
    """Blocking log writer/reader; one instance per data dir.

    Entries are whatever `decode` makes of a body (a `Txn` by default; an ensemble member
    logs ZAB proposals, which carry a Txn), as long as it has a `zxid`."""

    def __init__(self, log_dir: Path, decode: Callable[[bytes], Any] = Txn.unpack) -> None:
        self.decode = decode
        self.dir = log_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self._file: io.FileIO | None = None
        self.truncated: str | None = None

    def read_all(self, after_zxid: int = 0) -> list[Any]:
        """Every logged txn with zxid > after_zxid; truncates a torn tail in place."""
        segments = list_segments(self.dir)
        out: list[Txn] = []
        last = 0
        for index, (_, path) in enumerate(segments):
            buf = path.read_bytes()
            scan = _scan(buf, path.name, self.decode)
            if scan.bad is not None:
                newest = index == len(segments) - 1
                if not newest or not _is_torn_tail(buf, scan.good_end):
                    raise TxnLogCorruptionError(
                        f"{path}: {scan.bad}, and it is not a torn tail; refusing to start. "
                        f"Restore the data dir from a replica or backup."
                    )
                self._truncate(path, scan.good_end)
                self.truncated = f"{path.name}: {scan.bad}; truncated at byte {scan.good_end}"
            for t in scan.txns:
                if t.zxid <= last:
                    raise TxnLogCorruptionError(f"{path}: zxid {t.zxid:#x} after {last:#x}; refusing to start")
                last = t.zxid
                if t.zxid > after_zxid:
                    out.append(t)
        return out

    @staticmethod
    def _truncate(path: Path, size: int) -> None:
        with open(path, "r+b") as f:
            f.truncate(max(size, 0))
            f.flush()
            diskio.fsync(f.fileno())

    def roll(self, first_zxid: int) -> None:
        """Start a new segment whose first entry will be `first_zxid`. The switch happens
        only once the new segment's header is durable: if it cannot be written (a full
        disk) the new file is removed, OSError is raised and appends go on in the
        current segment, so a failed snapshot never leaves a log that cannot be read."""
        path = self.dir / segment_name(first_zxid)
        exists = path.exists() and path.stat().st_size >= len(MAGIC)
        new = open(path, "ab", buffering=0)  # noqa: SIM115 - becomes the current segment, closed by roll() or close()
        if not exists:
            try:
                new.truncate(0)
                diskio.write_all(new.fileno(), MAGIC)
                diskio.fsync(new.fileno())
                fsync_dir(self.dir)
            except OSError:
                new.close()
                path.unlink(missing_ok=True)
                raise
        if self._file is not None:
            self._file.close()
        self._file = new

    def append(self, entries: list[bytes]) -> None:
        """Write framed entries and fsync: after this returns they survive a crash.
        Every byte is written or OSError is raised (a write(2) may stop short: a full
        disk); then the caller must stop, and recovery cuts the partial entry away."""
        if self._file is None:
            raise RuntimeError("roll() must be called before append()")
        diskio.write_all(self._file.fileno(), b"".join(frame(e) for e in entries))
        diskio.fdatasync(self._file.fileno())

    def truncate_after(self, zxid: int) -> None:
        """Durably drop every entry above `zxid` (ZAB's TRUNC: uncommitted history), and
        keep appending after what remains."""
        if self._file is not None:
            self._file.close()
            self._file = None
        segments = list_segments(self.dir)
        for first, path in reversed(segments):
            scan = _scan(path.read_bytes(), path.name, self.decode)
            cut = next((i for i, t in enumerate(scan.txns) if t.zxid > zxid), None)
            if cut is None:
                break
            if cut == 0 and first > zxid:
                path.unlink()
                continue
            self._truncate(path, scan.starts[cut])
            break
        fsync_dir(self.dir)
        remaining = list_segments(self.dir)
        self.roll(remaining[-1][0] if remaining else zxid + 1)

    def purge_before(self, zxid: int) -> None:
        """Delete segments that hold only txns below `zxid` (covered by a snapshot)."""
        segments = list_segments(self.dir)
        for (_, path), (next_first, _) in pairwise(segments):
            if next_first <= zxid + 1:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
