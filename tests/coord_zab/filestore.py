"""A small file-backed `coord.zab.node.Storage` for tests of the asyncio shell.

Epochs and snapshot are written with temp + fsync + rename; the log is a msgpack stream
appended and fsynced per batch, rewritten whole on truncation (fine at test sizes).
The coord server brings its own storage (its TxnLog); this one must never be used as
a production log: it does not detect a torn tail.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgpack

from coord.zab import PersistentState
from coord.zab.messages import Entry
from storage import diskio


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class FileStorage:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_path = directory / "log"
        self.log_path.touch()

    def _entries(self) -> list[Entry]:
        with open(self.log_path, "rb") as f:
            return [(z, d) for z, d in msgpack.Unpacker(f, raw=False)]

    def load(self) -> PersistentState:
        accepted, current = (
            msgpack.unpackb((self.dir / "epochs").read_bytes()) if (self.dir / "epochs").exists() else (0, 0)
        )
        snap_zxid = self.snapshot()[0]
        entries = [e for e in self._entries() if e[0] > snap_zxid]
        return PersistentState(accepted, current, snap_zxid, entries)

    def snapshot(self) -> tuple[int, bytes]:
        path = self.dir / "snapshot"
        if not path.exists():
            return 0, b""
        zxid, data = msgpack.unpackb(path.read_bytes())
        return zxid, data

    def save_epochs(self, accepted: int, current: int) -> None:
        _write_atomic(self.dir / "epochs", msgpack.packb([accepted, current]))

    def append(self, entries: list[Entry]) -> None:
        # through storage.diskio, so tests can make these writes and fsyncs fail
        with open(self.log_path, "ab", buffering=0) as f:
            diskio.write_all(f.fileno(), b"".join(msgpack.packb([z, d]) for z, d in entries))
            diskio.fsync(f.fileno())

    def truncate(self, zxid: int) -> None:
        kept = [e for e in self._entries() if e[0] <= zxid]
        _write_atomic(self.log_path, b"".join(msgpack.packb([z, d]) for z, d in kept))

    def stage_snapshot(self, zxid: int, offset: int, data: bytes) -> None:
        with open(self.dir / "incoming", "wb" if offset == 0 else "ab") as f:
            if f.tell() != offset:
                raise OSError(f"chunk at {offset} does not follow the {f.tell()} bytes staged")
            f.write(data)

    def install_snapshot(self, zxid: int, size: int) -> None:
        data = (self.dir / "incoming").read_bytes()
        if len(data) != size:
            raise OSError(f"staged {len(data)} bytes, the snapshot has {size}")
        _write_atomic(self.dir / "snapshot", msgpack.packb([zxid, data]))
        _write_atomic(self.log_path, b"")

    def load_snapshot(self, zxid: int) -> bytes:
        snap_zxid, data = self.snapshot()
        if snap_zxid != zxid:
            raise OSError(f"the snapshot is at {snap_zxid:#x}, not {zxid:#x}")
        return data
