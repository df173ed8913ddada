"""Snapshots of the data tree and session table, and restoring from them.

On-disk format (directory ``<data-dir>/snapshot``): files ``snapshot.<zxid as 16 hex>``,
each the 8-byte magic ``PBZKSNP1`` then one entry framed like the txn log
(``u32 length | u32 crc32c | body``), body = msgpack
``{"zxid": z, "nodes": [[path, data, acl, czxid, mzxid, ctime, mtime, version, seq,
aversion, owner, pzxid], ...], "sessions": [[id, timeout_ms, password], ...]}``.
A snapshot is written to a temporary name, fsynced, then renamed, so a crash leaves
either the whole file or none; a snapshot that fails its checks is therefore corruption
and restoring refuses with `SnapshotCorruptionError`.

A snapshot is the tree at one zxid (consistent, not fuzzy): it is packed from a
`TreeImage` in bounded steps (`pack_image_steps`), between which the event loop keeps
answering reads and pings and, in an ensemble, transactions keep applying (the image
keeps each node it must still read as it was). The crc, write and fsync run on an I/O
thread. So replaying the log after its zxid is exact.

A ZAB leader ships its newest snapshot file to a follower that needs SNAP a chunk at a
time (`SnapshotFile`, read with pread from an open descriptor, so the file may be
rotated away meanwhile); the follower stages the chunks and `verify_file` checks the
whole before it becomes a snapshot.

It must never write into a live snapshot file, and never delete the newest snapshot.
"""

from __future__ import annotations

import os
import struct
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import crc32c
import msgpack

from coord.server.datatree import DataTree
from coord.server.tree_image import TreeImage
from coord.server.txnlog import fsync_dir, list_by_zxid
from storage import diskio

MAGIC = b"PBZKSNP1"
_HEAD = struct.Struct(">II")
KEEP = 2


class SnapshotCorruptionError(Exception):
    """A snapshot file is damaged; restoring from it would invent or lose state."""


# One step of packing: this many nodes, or this many bytes of node data, whichever
# comes first (about 3 ms of work on a quiet core, 15-25 ms on a loaded 2-core machine;
# 1 MiB znodes go one at a time).
STEP_NODES = 500
STEP_BYTES = 1 << 20


def pack_image_steps(image: TreeImage, step_nodes: int = STEP_NODES, step_bytes: int = STEP_BYTES) -> Iterator[bytes]:
    """The body of a snapshot of `image`, one bounded step per part yielded: between two
    parts the caller may let the event loop run (and the tree apply transactions, when
    the image is attached to it). `frame(parts)` makes the parts a snapshot file."""
    pack = msgpack.Packer(use_bin_type=True)
    count = len(image.paths)
    yield b"".join(
        [
            pack.pack_map_header(3),
            pack.pack("zxid"),
            pack.pack(image.zxid),
            pack.pack("nodes"),
            pack.pack_array_header(count),
        ]
    )
    index = 0
    while index < count:
        batch: list[list[Any]] = []
        size = 0
        while index < count and len(batch) < step_nodes and size < step_bytes:
            item = image.item(index)
            batch.append(item)
            size += len(item[1]) if item[1] else 0
            index += 1
        yield _array_body(pack, batch)
    yield pack.pack("sessions") + pack.pack(image.sessions)


def _array_body(pack: msgpack.Packer, items: list[Any]) -> bytes:
    """`items` packed as array elements, without the array's own header."""
    return pack.pack(items)[len(pack.pack_array_header(len(items))) :]


def frame(parts: list[bytes]) -> list[bytes]:
    """A snapshot file's pieces: magic and header (length, crc32c of the body) before
    the body `parts`, computed without joining them (a tree can be hundreds of MiB)."""
    crc = 0
    for part in parts:
        crc = crc32c.crc32c(part, crc)
    return [MAGIC + _HEAD.pack(sum(map(len, parts)), crc), *parts]


def pack_tree(tree: DataTree) -> bytes:
    """The whole snapshot file of a tree nothing changes meanwhile, in one go (tests, tools)."""
    return b"".join(frame(list(pack_image_steps(tree.image()))))


def list_snapshots(snap_dir: Path) -> list[tuple[int, Path]]:
    return list_by_zxid(snap_dir, "snapshot")


def write_snapshot(snap_dir: Path, zxid: int, body: list[bytes]) -> Path:
    """Durably write a snapshot from its body parts (`pack_image_steps`), then drop all
    but the newest `KEEP`. Framing (crc over the whole body) is done here, on the
    caller's I/O thread, not on the event loop."""
    snap_dir.mkdir(parents=True, exist_ok=True)
    final = snap_dir / f"snapshot.{zxid:016x}"
    tmp = snap_dir / f".tmp.{final.name}"
    with open(tmp, "wb", buffering=0) as f:
        for piece in frame(body):
            diskio.write_all(f.fileno(), piece)
        diskio.fsync(f.fileno())
    os.replace(tmp, final)
    fsync_dir(snap_dir)
    for _, old in list_snapshots(snap_dir)[:-KEEP]:
        old.unlink(missing_ok=True)
    return final


def oldest_kept_zxid(snap_dir: Path) -> int | None:
    snaps = list_snapshots(snap_dir)
    return snaps[0][0] if snaps else None


def load_latest(snap_dir: Path) -> DataTree | None:
    """The tree of the newest snapshot, or None if there is none yet."""
    snaps = list_snapshots(snap_dir) if snap_dir.exists() else []
    if not snaps:
        return None
    return load_file(snaps[-1][1])


def load_file(path: Path) -> DataTree:
    """The tree of one snapshot file, checked against the zxid its name gives."""
    zxid = int(path.name.split(".", 1)[1], 16)
    tree = parse_snapshot(path.read_bytes(), str(path))
    if tree.last_zxid != zxid:
        raise SnapshotCorruptionError(f"{path}: holds zxid {tree.last_zxid:#x}, name says {zxid:#x}")
    return tree


def parse_snapshot(buf: bytes, name: str) -> DataTree:
    """A snapshot file's bytes (from disk, or shipped by a ZAB leader as SNAP) -> tree."""
    if buf[: len(MAGIC)] != MAGIC or len(buf) < len(MAGIC) + _HEAD.size:
        raise SnapshotCorruptionError(f"{name}: bad magic or header; refusing to start")
    length, crc = _HEAD.unpack_from(buf, len(MAGIC))
    body = buf[len(MAGIC) + _HEAD.size :]
    if len(body) != length or crc32c.crc32c(body) != crc:
        raise SnapshotCorruptionError(f"{name}: length or crc mismatch; refusing to start")
    doc = msgpack.unpackb(body, raw=False)
    return DataTree.restore(doc["nodes"], doc["sessions"], doc["zxid"])


class SnapshotFile:
    """A snapshot file open for reading at any offset (a ZAB SNAP source). The descriptor
    is closed when the last reference goes, so a file rotated away during a transfer
    stays readable until the transfer ends."""

    def __init__(self, zxid: int, path: Path) -> None:
        self.zxid = zxid
        fd = os.open(path, os.O_RDONLY)
        self.size = os.fstat(fd).st_size
        self._fd = fd
        weakref.finalize(self, os.close, fd)

    def read(self, offset: int, size: int) -> bytes:
        data = os.pread(self._fd, size, offset)
        if len(data) != size:
            raise SnapshotCorruptionError(f"snapshot {self.zxid:#x}: {len(data)} bytes at {offset}, expected {size}")
        return data


def open_newest(snap_dir: Path) -> SnapshotFile | None:
    """The newest snapshot, open for reading; None if there is none."""
    for _ in range(3):  # a rotation may remove a file between listing and opening
        snaps = list_snapshots(snap_dir) if snap_dir.exists() else []
        if not snaps:
            return None
        try:
            return SnapshotFile(*snaps[-1])
        except FileNotFoundError:
            continue
    raise SnapshotCorruptionError(f"{snap_dir}: snapshots keep vanishing while opened")


def verify_file(path: Path, block: int = 1 << 20) -> None:
    """Check a snapshot file's magic, length and crc without holding it in memory."""
    with open(path, "rb") as f:
        head = f.read(len(MAGIC) + _HEAD.size)
        if head[: len(MAGIC)] != MAGIC or len(head) < len(MAGIC) + _HEAD.size:
            raise SnapshotCorruptionError(f"{path}: bad magic or header")
        length, crc = _HEAD.unpack_from(head, len(MAGIC))
        got, total = 0, 0
        while chunk := f.read(block):
            got = crc32c.crc32c(chunk, got)
            total += len(chunk)
    if total != length or got != crc:
        raise SnapshotCorruptionError(f"{path}: length or crc mismatch")
