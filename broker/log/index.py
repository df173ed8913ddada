"""Sparse segment indexes: the offset index and the time index, append-only files.

On disk (big-endian, no header, no checksum: derived data, rebuilt from the log when in
doubt):

    <base>.index      8-byte entries: relative offset i32, file position i32
                      relative offset = last offset of the batch at that position - base
    <base>.timeindex  12-byte entries: timestamp i64, relative offset i32
                      timestamp = the largest batch max_timestamp seen in the segment up to
                      and including the batch whose last offset is base + relative offset

Both files are append-only (not preallocated): entries live in memory (two arrays per
index) and `write_pending` appends the ones not yet on disk, which the log does on
flush (without fsync there: a lost index tail only makes recovery re-scan a little more).
So an index file is always a prefix of the in-memory index, at most a
torn last entry longer, which `load` drops. Keys strictly increase in both indexes.

This module must never read the .log file: it knows positions, not batches.
"""

from __future__ import annotations

import logging
import os
import struct
from array import array
from bisect import bisect_left, bisect_right
from pathlib import Path
from typing import Self

from storage import diskio

log = logging.getLogger(__name__)


class SparseIndex:
    """Sorted (key, value) pairs with a file holding the first `persisted` of them."""

    ENTRY: struct.Struct
    KEY_CODE: str
    VALUE_CODE: str

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keys = array(self.KEY_CODE)
        self.values = array(self.VALUE_CODE)
        self.persisted = 0

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def load(cls, path: Path) -> tuple[Self, bool]:
        """Read `path`; returns the index and whether the file was whole and ordered.

        A torn trailing entry or an out-of-order entry ends the valid prefix; the file is
        cut back to it. A missing file gives an empty index and False.
        """
        index = cls(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return index, False
        size = cls.ENTRY.size
        whole = len(data) % size == 0
        for key, value in cls.ENTRY.iter_unpack(data[: len(data) - len(data) % size]):
            if index.keys and (key <= index.keys[-1] or value < index.values[-1]):
                whole = False
                break
            index.keys.append(key)
            index.values.append(value)
        index.persisted = len(index.keys)
        if not whole:
            os.truncate(path, index.persisted * size)
        return index, whole

    def create_file(self) -> None:
        with open(self.path, "wb"):
            pass

    def append(self, key: int, value: int) -> None:
        self.keys.append(key)
        self.values.append(value)

    def floor(self, key: int) -> int:
        """Position in the arrays of the last entry with key <= `key`, or -1."""
        return bisect_right(self.keys, key) - 1

    def below(self, key: int) -> int:
        """Position of the last entry with key < `key`, or -1."""
        return bisect_left(self.keys, key) - 1

    def truncate_entries(self, count: int) -> None:
        """Keep the first `count` entries, in memory and on disk."""
        if count >= len(self.keys):
            return
        del self.keys[count:]
        del self.values[count:]
        if self.persisted > count:
            self.persisted = count
            try:
                os.truncate(self.path, count * self.ENTRY.size)
            except FileNotFoundError:
                pass

    def write_pending(self, upto: int, *, sync: bool = True) -> None:
        """Append entries [persisted, upto) to the file (and fsync it if `sync`)."""
        if upto <= self.persisted:
            return
        pack = self.ENTRY.pack
        data = b"".join(pack(self.keys[i], self.values[i]) for i in range(self.persisted, upto))
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            diskio.pwrite_all(fd, data, self.persisted * self.ENTRY.size)
            if sync:
                diskio.fsync(fd)
        finally:
            os.close(fd)
        self.persisted = upto


class OffsetIndex(SparseIndex):
    """relative last offset of a batch -> file position of that batch."""

    ENTRY = struct.Struct(">ii")
    KEY_CODE = "i"
    VALUE_CODE = "i"


class TimeIndex(SparseIndex):
    """running max timestamp -> relative last offset of the batch where it was reached."""

    ENTRY = struct.Struct(">qi")
    KEY_CODE = "q"
    VALUE_CODE = "i"
