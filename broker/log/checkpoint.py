"""Small checkpoint files written atomically: temp file, fsync, rename, fsync the directory.

Text format, as Kafka's checkpoints: line 1 a version number, line 2 the entry count, then
one entry per line of space-separated integers. A reader sees either the old file or the
new one, never a mix. This module must never hold state between calls.
"""

from __future__ import annotations

import os
from pathlib import Path

from storage import diskio

VERSION = 0


class CheckpointError(ValueError):
    """A checkpoint file exists but cannot be parsed."""


def write_checkpoint(path: Path, entries: list[tuple[int, ...]]) -> None:
    lines = [str(VERSION), str(len(entries))] + [" ".join(str(v) for v in e) for e in entries]
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        diskio.write_all(fd, ("\n".join(lines) + "\n").encode())
        diskio.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_checkpoint(path: Path, width: int) -> list[tuple[int, ...]] | None:
    """The entries of `path`, or None when it does not exist."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    lines = text.splitlines()
    try:
        if int(lines[0]) != VERSION:
            raise CheckpointError(f"{path}: unknown checkpoint version {lines[0]!r}")
        count = int(lines[1])
        entries = [tuple(int(v) for v in line.split()) for line in lines[2 : 2 + count]]
    except (IndexError, ValueError) as e:
        raise CheckpointError(f"{path} is not a valid checkpoint ({e}); delete it to rebuild") from None
    if len(entries) != count or any(len(e) != width for e in entries):
        raise CheckpointError(f"{path} holds {len(entries)} entries of the wrong shape; delete it to rebuild")
    return entries


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        diskio.fsync(fd)
    finally:
        os.close(fd)
