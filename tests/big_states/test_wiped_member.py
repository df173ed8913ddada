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

import pytest

from coord.client.client import CoordClient
from tests.coord_ensemble.harness import Ensemble, wait_until

MIB = 1 << 20


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


def _rejoin_wiped(ens: Ensemble, count: int, size: int) -> None:
    ens.start()
    ens.wait_leader()
    asyncio.run(_write(ens.hosts(), count, size))
    zxid = ens.wait_same_zxid(timeout=120)
    leader = ens.wait_leader()
    victim = next(s for s in ens.sids if s != leader)
    ens.stop(victim)
    shutil.rmtree(ens.root / f"data{victim}")
    ens.start(victim)
    wait_until(f"wiped member {victim} serving again", lambda: ens.mode(victim) == "follower",
               timeout=240)
    assert ens.wait_same_zxid(timeout=120) == zxid
    installed = re.findall(r"installed the leader's snapshot at zxid (0x[0-9a-f]+)",
                           ens.procs.log_text(ens.name(victim)))
    assert installed, "the wiped member caught up without a snapshot: SNAP was not exercised"
    assert int(installed[-1], 16) < zxid, "no proposals followed the snapshot (DIFF)"
    want = asyncio.run(_digest(f"127.0.0.1:{ens.client_port[leader]}"))
    got = asyncio.run(_digest(f"127.0.0.1:{ens.client_port[victim]}"))
    assert want[0] == count and got == want


@pytest.mark.timeout(600)
def test_wiped_member_catches_up_by_a_snapshot_over_the_frame_cap(ensemble) -> None:
    # 150 MiB: a snapshot at ~120 MiB (SNAP, streamed) plus ~30 MiB logged after it (DIFF).
    ens = ensemble(3, extra=("--snap-count", "120"))
    _rejoin_wiped(ens, count=150, size=MIB - 1024)


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_wiped_member_catches_up_on_a_several_hundred_mib_tree(ensemble) -> None:
    ens = ensemble(3, extra=("--snap-count", "250"))
    _rejoin_wiped(ens, count=320, size=MIB - 1024)
