"""Txn log and snapshots on a real disk: round trip, torn tails, corruption refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from coord.server import txn as T
from coord.server.datatree import DataTree
from coord.server.snapshot import SnapshotCorruptionError, list_snapshots, load_latest, pack_image_steps, write_snapshot
from coord.server.txn import Txn
from coord.server.txnlog import MAGIC, TxnLog, TxnLogCorruptionError, list_segments


def _txns(first: int, n: int) -> list[Txn]:
    return [
        Txn(z, 1000 + z, 5, T.CREATE, [f"/n{z}", b"d" * z, [[31, "world", "anyone"]], 0])
        for z in range(first, first + n)
    ]


def _write(log_dir: Path, txns: list[Txn]) -> None:
    log = TxnLog(log_dir)
    log.roll(txns[0].zxid)
    log.append([t.pack() for t in txns[:3]])
    log.append([t.pack() for t in txns[3:]])
    log.close()


def test_round_trip_and_after_zxid(tmp_path: Path) -> None:
    txns = _txns(1, 6)
    _write(tmp_path, txns)
    assert TxnLog(tmp_path).read_all() == txns
    assert TxnLog(tmp_path).read_all(after_zxid=4) == txns[4:]


@pytest.mark.parametrize("cut", [1, 5, 9, 20])
def test_torn_tail_is_truncated(tmp_path: Path, cut: int) -> None:
    txns = _txns(1, 4)
    _write(tmp_path, txns)
    ((_, seg),) = list_segments(tmp_path)
    size = seg.stat().st_size
    with open(seg, "r+b") as f:
        f.truncate(size - cut)
    log = TxnLog(tmp_path)
    assert log.read_all() == txns[:3]
    assert log.truncated is not None
    assert seg.stat().st_size < size - cut or cut >= size  # bytes of the torn entry are gone
    # appending after recovery continues the same history
    log.roll(4)
    log.append([txns[3].pack()])
    assert TxnLog(tmp_path).read_all() == txns


def test_last_entry_with_bad_crc_is_a_torn_tail(tmp_path: Path) -> None:
    txns = _txns(1, 3)
    _write(tmp_path, txns)
    ((_, seg),) = list_segments(tmp_path)
    raw = bytearray(seg.read_bytes())
    raw[-1] ^= 0xFF
    seg.write_bytes(bytes(raw))
    assert TxnLog(tmp_path).read_all() == txns[:2]


def test_damage_in_the_middle_refuses_to_start(tmp_path: Path) -> None:
    txns = _txns(1, 5)
    _write(tmp_path, txns)
    ((_, seg),) = list_segments(tmp_path)
    raw = bytearray(seg.read_bytes())
    raw[len(MAGIC) + 12] ^= 0xFF  # inside the first entry's body
    seg.write_bytes(bytes(raw))
    with pytest.raises(TxnLogCorruptionError, match="refusing to start"):
        TxnLog(tmp_path).read_all()


def test_damage_in_an_older_segment_refuses(tmp_path: Path) -> None:
    log = TxnLog(tmp_path)
    log.roll(1)
    log.append([t.pack() for t in _txns(1, 2)])
    log.roll(3)
    log.append([t.pack() for t in _txns(3, 2)])
    log.close()
    first = list_segments(tmp_path)[0][1]
    first.write_bytes(first.read_bytes()[:-2])
    with pytest.raises(TxnLogCorruptionError):
        TxnLog(tmp_path).read_all()


def test_snapshot_round_trip_and_corruption(tmp_path: Path) -> None:
    tree = DataTree()
    for t in _txns(1, 3):
        tree.apply(t)
    tree.apply(Txn(4, 0, 0, T.CREATE_SESSION, [77, 4000, b"p" * 16]))
    for _ in range(3):
        write_snapshot(tmp_path, tree.last_zxid, list(pack_image_steps(tree.image())))
        tree.apply(Txn(tree.last_zxid + 1, 0, 0, T.SET_DATA, ["/n1", b"x"]))
    assert len(list_snapshots(tmp_path)) == 2
    restored = load_latest(tmp_path)
    assert restored is not None and restored.last_zxid == 6
    assert restored.sessions == {77: (4000, b"p" * 16)}
    assert restored.get("/n1").stat().version == 2
    newest = list_snapshots(tmp_path)[-1][1]
    raw = bytearray(newest.read_bytes())
    raw[-3] ^= 1
    newest.write_bytes(bytes(raw))
    with pytest.raises(SnapshotCorruptionError, match="refusing to start"):
        load_latest(tmp_path)


def test_snapshot_is_packed_in_bounded_steps_that_restore_exactly(tmp_path: Path) -> None:
    tree = DataTree()
    for t in _txns(1, 5000):
        tree.apply(t)
    tree.apply(Txn(5001, 0, 0, T.SET_DATA, ["/n1", b"y" * 3000]))
    parts = list(pack_image_steps(tree.image(), step_nodes=1000, step_bytes=2000))
    assert len(parts) >= 7  # header, node steps (/n1 alone: over the byte bound), sessions
    write_snapshot(tmp_path, tree.last_zxid, parts)
    restored = load_latest(tmp_path)
    assert list(restored.iter_nodes()) == list(tree.iter_nodes())
