"""The durable state of one ensemble member, as `coord.zab.node.Storage` wants it.

Layout inside the member's data dir (the standalone layout plus two epoch files, named
as ZooKeeper names them):

```
acceptedEpoch, currentEpoch     decimal text, written to a temp file, fsynced, renamed
log/log.<zxid>                  the txn log format, entries = msgpack Proposals
snapshot/snapshot.<zxid>        the standalone snapshot format (committed state only)
snapshot/.incoming              a leader's snapshot being received (SNAP), chunk by chunk
```

Every method blocks until what it did is durable; the shell runs them on its single I/O
thread, in order. This module must never decide what is committed: the ZAB core does.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import BinaryIO, NamedTuple

from coord.server.datatree import DataTree
from coord.server.proposal import Proposal
from coord.server.snapshot import (
    KEEP,
    list_snapshots,
    load_file,
    oldest_kept_zxid,
    verify_file,
    write_snapshot,
)
from coord.server.txnlog import TxnLog, fsync_dir
from coord.zab import PersistentState
from coord.zab.messages import Entry
from storage import diskio


class _Logged(NamedTuple):
    """A logged entry as ZAB sees it: the zxid and the bytes, checked to be a Proposal."""

    zxid: int
    body: bytes


def _decode(body: bytes) -> _Logged:
    return _Logged(Proposal.unpack(body).zxid, body)


class EnsembleStorage:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir
        self.snap_dir = data_dir / "snapshot"
        self.log = TxnLog(data_dir / "log", decode=_decode)
        self.last_logged = 0
        self.truncated: str | None = None
        self._incoming: BinaryIO | None = None
        self._snap_lock = threading.Lock()  # the snapshot directory's two writers

    # -- coord.zab.node.Storage ----------------------------------------------------------

    def load(self) -> PersistentState:
        self.dir.mkdir(parents=True, exist_ok=True)
        snaps = list_snapshots(self.snap_dir) if self.snap_dir.exists() else []
        snap_zxid = snaps[-1][0] if snaps else 0
        logged = self.log.read_all()
        self.truncated = self.log.truncated
        self.last_logged = logged[-1].zxid if logged else snap_zxid
        entries = [(z, body) for z, body in logged if z > snap_zxid]
        self.log.roll(max(self.last_logged, snap_zxid) + 1)
        return PersistentState(self._epoch("acceptedEpoch"), self._epoch("currentEpoch"), snap_zxid, entries)

    def save_epochs(self, accepted: int, current: int) -> None:
        self._write_epoch("acceptedEpoch", accepted)
        self._write_epoch("currentEpoch", current)
        fsync_dir(self.dir)

    def append(self, entries: list[Entry]) -> None:
        self.log.append([body for _, body in entries])
        self.last_logged = entries[-1][0]

    def truncate(self, zxid: int) -> None:
        self.log.truncate_after(zxid)
        self.last_logged = min(self.last_logged, zxid)

    def stage_snapshot(self, zxid: int, offset: int, data: bytes) -> None:
        """A chunk of the leader's snapshot at zxid; offset 0 starts the file over.
        Not durable by itself: `install_snapshot` fsyncs the whole."""
        if offset == 0:
            self._drop_incoming()
            self.snap_dir.mkdir(parents=True, exist_ok=True)
            # Stays open across chunks (one per message); closed by install or close.
            self._incoming = open(self.snap_dir / ".incoming", "wb", buffering=0)  # noqa: SIM115
        f = self._incoming
        if f is None or f.tell() != offset:
            raise OSError(f"snapshot chunk at byte {offset} does not follow what was staged")
        diskio.write_all(f.fileno(), data)

    def install_snapshot(self, zxid: int, size: int) -> None:
        """SNAP from the leader: the staged snapshot replaces the tree and the whole log."""
        f, self._incoming = self._incoming, None
        staged = self.snap_dir / ".incoming"
        if f is None or f.tell() != size:
            raise OSError(f"staged snapshot at {zxid:#x} is not the {size} bytes announced")
        try:
            diskio.fsync(f.fileno())
        finally:
            f.close()
        verify_file(staged)
        with self._snap_lock:
            for snap_zxid, path in list_snapshots(self.snap_dir):
                if snap_zxid > zxid:
                    path.unlink()  # never preferred over the leader's state at the next start
            os.replace(staged, self.snap_dir / f"snapshot.{zxid:016x}")
            fsync_dir(self.snap_dir)
            for _, old in list_snapshots(self.snap_dir)[:-KEEP]:
                old.unlink(missing_ok=True)
        self.log.close()
        for path in self.log.dir.glob("log.*"):
            path.unlink()
        fsync_dir(self.log.dir)
        self.log.roll(zxid + 1)
        self.last_logged = zxid

    def load_snapshot(self, zxid: int) -> DataTree:
        """The snapshot just installed, as a tree (the state machine's `restore`)."""
        return load_file(self.snap_dir / f"snapshot.{zxid:016x}")

    def _drop_incoming(self) -> None:
        if self._incoming is not None:
            self._incoming.close()
            self._incoming = None

    # -- snapshots of this member's own applied state --------------------------------------

    def write_snapshot(self, zxid: int, body: list[bytes]) -> None:
        """Durably write a snapshot of committed state at zxid. Called on a thread of its
        own, not the log's: writing and fsyncing a tree of 100+ MiB takes seconds on a busy
        disk, and appends (hence acks) queued behind it would make the leader drop this
        member (ZooKeeper snapshots on a thread of its own too). The lock keeps it apart
        from a SNAP install, the other writer of the snapshot directory."""
        with self._snap_lock:
            write_snapshot(self.snap_dir, zxid, body)

    def purge_log(self) -> None:
        """After a snapshot: roll the log and drop the segments the oldest kept snapshot
        covers (on the log's I/O thread, in order with appends)."""
        self.log.roll(self.last_logged + 1)
        with self._snap_lock:
            oldest = oldest_kept_zxid(self.snap_dir)
        if oldest is not None:
            self.log.purge_before(oldest)

    def close(self) -> None:
        self._drop_incoming()
        self.log.close()

    # -- epochs ----------------------------------------------------------------------------

    def _epoch(self, name: str) -> int:
        path = self.dir / name
        return int(path.read_text().strip()) if path.exists() else 0

    def _write_epoch(self, name: str, value: int) -> None:
        tmp = self.dir / f".tmp.{name}"
        with open(tmp, "wb", buffering=0) as f:
            diskio.write_all(f.fileno(), f"{value}\n".encode())
            diskio.fsync(f.fileno())
        os.replace(tmp, self.dir / name)
