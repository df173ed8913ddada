"""Thousands of partitions on one FileHandleCache: descriptors stay bounded by its cap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from broker.log import FileHandleCache, LogConfig, PartitionLog
from tests.broker_log.helpers import batches_in, make_batch


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.slow
def test_2000_partitions_with_a_cap_of_64_handles(tmp_path: Path) -> None:
    cap, count = 64, 2000
    handles = FileHandleCache(max_open=cap)
    config = LogConfig(segment_bytes=2 * len(make_batch(1, 0)), index_interval_bytes=100)
    before = open_fds()
    logs = []
    for p in range(count):
        plog = PartitionLog.open(tmp_path / f"t-{p}", config, handles=handles)
        for i in range(3):  # two segments each
            plog.append(make_batch(1, i, p))
        logs.append(plog)
        if p % 20 == 0:
            assert open_fds() - before <= cap + 2
    assert sum(len(plog.segments) for plog in logs) >= 2 * count
    for p, plog in enumerate(logs):  # every partition still reads, reopening lazily
        with plog.read(1, 1000) as piece:
            ((base, _, values),) = batches_in(piece.read_bytes())
        assert base == 1 and values[0].startswith(b"%d-0-" % p)
    assert open_fds() - before <= cap + 2
    for plog in logs[::50]:
        plog.flush()
    for plog in logs:
        plog.close()
    handles.close()
    assert open_fds() == before
