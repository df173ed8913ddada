"""A follower's storage takes a leader's snapshot a chunk at a time (coord.server
.zab_storage): the chunks are staged in a file, the install checks the whole (a damaged
transfer is refused before it replaces anything) and the state reads back."""

from __future__ import annotations

from pathlib import Path

import pytest

from coord.server import txn as T
from coord.server.datatree import DataTree
from coord.server.snapshot import SnapshotCorruptionError, SnapshotFile, pack_tree
from coord.server.txn import Txn
from coord.server.zab_storage import EnsembleStorage


def _tree(zxid: int) -> DataTree:
    tree = DataTree()
    for i in range(1, zxid + 1):
        tree.apply(Txn(i, 1000, 0, T.CREATE, [f"/n{i}", b"x" * 300, [[31, "world", "anyone"]], 0]))
    return tree


def _chunks(blob: bytes, size: int) -> list[tuple[int, bytes]]:
    return [(at, blob[at : at + size]) for at in range(0, len(blob), size)]


def test_a_snapshot_staged_in_chunks_installs_and_reads_back(tmp_path: Path) -> None:
    blob = pack_tree(_tree(40))
    storage = EnsembleStorage(tmp_path)
    storage.load()
    for offset, data in _chunks(blob, 1000):
        storage.stage_snapshot(40, offset, data)
    storage.install_snapshot(40, len(blob))
    tree = storage.load_snapshot(40)
    assert tree.last_zxid == 40 and tree.get("/n40").data == b"x" * 300
    image = SnapshotFile(40, tmp_path / "snapshot" / f"snapshot.{40:016x}")
    assert b"".join(image.read(o, len(d)) for o, d in _chunks(blob, 777)) == blob
    storage.close()


def test_a_damaged_transfer_is_refused_before_it_replaces_the_log(tmp_path: Path) -> None:
    blob = bytearray(pack_tree(_tree(40)))
    blob[len(blob) // 2] ^= 0xFF
    storage = EnsembleStorage(tmp_path)
    storage.load()
    for offset, data in _chunks(bytes(blob), 1000):
        storage.stage_snapshot(40, offset, data)
    with pytest.raises(SnapshotCorruptionError):
        storage.install_snapshot(40, len(blob))
    assert not list((tmp_path / "snapshot").glob("snapshot.*"))
    assert list((tmp_path / "log").glob("log.*")), "the log went although nothing replaced it"
    storage.close()


def test_chunks_out_of_order_are_refused(tmp_path: Path) -> None:
    storage = EnsembleStorage(tmp_path)
    storage.load()
    storage.stage_snapshot(40, 0, b"a" * 10)
    with pytest.raises(OSError):
        storage.stage_snapshot(40, 20, b"b" * 10)
    storage.close()
