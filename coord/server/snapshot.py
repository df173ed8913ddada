"""Snapshots of the data tree and session table, and restoring from them.

On-disk format (directory ``<data-dir>/snapshot``): files ``snapshot.<zxid as 16 hex>``,
each the 8-byte magic ``PBZKSNP1`` then one entry framed like the txn log
(``u32 length | u32 crc32c | body``), body = msgpack
``{"zxid": z, "nodes": [[path, data, acl, czxid, mzxid, ctime, mtime, version, seq,
aversion, owner, pzxid], ...], "sessions": [[id, timeout_ms, password], ...]}``.
A snapshot is written to a temporary name, fsynced, then renamed, so a crash leaves
either the whole file or none; a snapshot that fails its checks is therefore corruption
and restoring refuses with `SnapshotCorruption`.

The snapshot is taken between two transactions (consistent, not fuzzy: the tree is
packed on the event loop in one msgpack call, only the write and fsync run on a worker
thread), so replaying the log after its zxid is exact.

It must never write into a live snapshot file, and never delete the newest snapshot.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import crc32c
import msgpack

from coord.server.datatree import DataTree
from coord.server.txnlog import fsync_dir, list_by_zxid

MAGIC = b"PBZKSNP1"
_HEAD = struct.Struct(">II")
KEEP = 2


class SnapshotCorruption(Exception):
    """A snapshot file is damaged; restoring from it would invent or lose state."""


def pack_tree(tree: DataTree) -> bytes:
    """The snapshot body: cheap enough to run on the event loop for a coordination tree."""
    body = msgpack.packb({
        "zxid": tree.last_zxid,
        "nodes": list(tree.iter_nodes()),
        "sessions": [[sid, t, pw] for sid, (t, pw) in tree.sessions.items()],
    }, use_bin_type=True)
    return MAGIC + _HEAD.pack(len(body), crc32c.crc32c(body)) + body


def list_snapshots(snap_dir: Path) -> list[tuple[int, Path]]:
    return list_by_zxid(snap_dir, "snapshot")


def write_snapshot(snap_dir: Path, zxid: int, blob: bytes) -> Path:
    """Durably write a packed snapshot, then drop all but the newest `KEEP`."""
    snap_dir.mkdir(parents=True, exist_ok=True)
    final = snap_dir / f"snapshot.{zxid:016x}"
    tmp = snap_dir / f".tmp.{final.name}"
    with open(tmp, "wb") as f:
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())
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
    zxid, path = snaps[-1]
    buf = path.read_bytes()
    if buf[:len(MAGIC)] != MAGIC or len(buf) < len(MAGIC) + _HEAD.size:
        raise SnapshotCorruption(f"{path}: bad magic or header; refusing to start")
    length, crc = _HEAD.unpack_from(buf, len(MAGIC))
    body = buf[len(MAGIC) + _HEAD.size:]
    if len(body) != length or crc32c.crc32c(body) != crc:
        raise SnapshotCorruption(f"{path}: length or crc mismatch; refusing to start")
    doc = msgpack.unpackb(body, raw=False)
    if doc["zxid"] != zxid:
        raise SnapshotCorruption(f"{path}: holds zxid {doc['zxid']:#x}, name says {zxid:#x}")
    return DataTree.restore(doc["nodes"], doc["sessions"], doc["zxid"])
