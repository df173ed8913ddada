"""Small real filesystems the test mounts: a tmpfs to fill up and free again, and ext4
disks on loop devices that fail as a dying disk does."""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


class SmallDisk:
    """A tmpfs of `size` at `path`; `fill()` takes every free byte, `free()` gives them back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> None:
        with open(self.filler, "ab", buffering=0) as f:
            chunk = b"\0" * (64 << 10)
            for _ in range(100_000):  # bounded: far more than any disk a test mounts
                try:
                    if f.write(chunk) < len(chunk):
                        chunk = chunk[:1]  # the last partial page: take it byte by byte
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    if len(chunk) == 1:
                        return
                    chunk = chunk[:1]
        raise AssertionError(f"{self.path} never filled up")

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    path = tmp_path / "disk"
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)], capture_output=True, text=True
    )
    if mounted.returncode != 0:  # needs root (CI runs as root, as the netns tests do)
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield SmallDisk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


EXT4_IOC_SHUTDOWN = 0x8004587D  # _IOR('X', 125, __u32): ext4's "the device is going down"
EXT4_GOING_FLAGS_NOLOGFLUSH = 2  # as if the disk died: nothing more reaches it


class FailingDisk:
    """An ext4 filesystem on a loop device, mounted at `path`. `fail()` shuts it down the
    way ext4 does when its device dies: from then on every read, write and fsync of a
    file on it fails with EIO, in every process (no fault hook in the code under test)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN, struct.pack("I", EXT4_GOING_FLAGS_NOLOGFLUSH))
        finally:
            os.close(fd)

    def replace(self) -> None:
        """An operator swapped the dead disk for an empty one: `path` is an empty directory."""
        subprocess.run(["umount", "-l", str(self.path)], check=True)


@pytest.fixture
def failing_disks(tmp_path: Path) -> Iterator[Callable[[str], FailingDisk]]:
    """`make(name)`: a fresh 32 MiB FailingDisk mounted at tmp_path/name."""
    mounted: list[Path] = []

    def make(name: str) -> FailingDisk:
        image, path = tmp_path / f"{name}.img", tmp_path / name
        path.mkdir()
        with open(image, "wb") as f:
            f.truncate(32 << 20)
        for command in (["mkfs.ext4", "-q", "-F", str(image)], ["mount", "-o", "loop", str(image), str(path)]):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:  # needs root and loop devices (CI runs as root)
                pytest.skip(f"cannot make an ext4 disk on a loop device here: {done.stderr.strip()}")
        mounted.append(path)
        return FailingDisk(path)

    try:
        yield make
    finally:
        for path in mounted:  # a replaced disk is already unmounted
            subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)
