"""The leader-epoch cache's KIP-101 answers and persistence; the descriptor cache's cap
and pinning."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from broker.log import FileHandleCache, LeaderEpochCache


def cache(tmp_path: Path, end: int = 100) -> LeaderEpochCache:
    return LeaderEpochCache(tmp_path / "leader-epoch-checkpoint", lambda: end)


def test_end_offset_for_follows_kip_101(tmp_path: Path) -> None:
    epochs = cache(tmp_path)
    assert epochs.end_offset_for(0) == (-1, -1)  # nothing known
    for epoch, start in ((2, 0), (4, 30), (7, 55)):
        epochs.assign(epoch, start)
    assert epochs.end_offset_for(7) == (7, 100)  # latest: the log end
    assert epochs.end_offset_for(4) == (4, 55)  # next higher epoch's start
    assert epochs.end_offset_for(5) == (4, 55)  # unknown epoch: the largest one below it
    assert epochs.end_offset_for(1) == (1, 0)  # below the earliest
    assert epochs.end_offset_for(8) == (-1, -1)  # above the latest


def test_assign_ignores_older_epochs_and_drops_conflicting_entries(tmp_path: Path) -> None:
    epochs = cache(tmp_path)
    epochs.assign(3, 10)
    epochs.assign(2, 20)
    epochs.assign(3, 25)
    assert [tuple(e) for e in epochs.entries] == [(3, 10)]
    epochs.assign(5, 5)  # a higher epoch starting earlier replaces what it overlaps
    assert [tuple(e) for e in epochs.entries] == [(5, 5)]


def test_truncation_from_both_ends_is_persisted(tmp_path: Path) -> None:
    epochs = cache(tmp_path)
    for epoch, start in ((1, 0), (2, 10), (3, 20), (4, 30)):
        epochs.assign(epoch, start)
    epochs.truncate_from_end(20)
    epochs.truncate_from_start(15)
    assert [tuple(e) for e in epochs.entries] == [(2, 15)]
    assert [tuple(e) for e in cache(tmp_path).entries] == [(2, 15)]
    assert (tmp_path / "leader-epoch-checkpoint").read_text() == "0\n1\n2 15\n"
    assert not list(tmp_path.glob("*.tmp"))


def test_handle_cache_caps_open_descriptors_but_never_closes_a_pinned_one(tmp_path: Path) -> None:
    paths = [tmp_path / f"f{i}" for i in range(10)]
    for p in paths:
        p.write_bytes(b"x")
    handles = FileHandleCache(max_open=3)
    pinned_fd = handles.acquire(paths[0])
    for p in paths[1:]:
        with handles.pinned(p) as fd:
            assert os.pread(fd, 1, 0) == b"x"
        assert len(handles) <= 3
    assert os.pread(pinned_fd, 1, 0) == b"x"  # still open although least recently used
    handles.forget(paths[0])  # deleted while pinned: closed on release, not before
    assert os.pread(pinned_fd, 1, 0) == b"x"
    handles.release(paths[0])
    with pytest.raises(OSError):
        os.fstat(pinned_fd)
    handles.close()
    assert len(handles) == 0
