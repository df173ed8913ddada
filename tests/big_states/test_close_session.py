"""closeSession of a session owning very many ephemerals is one txn larger than the
64 MiB peer frame (it lists every path it deletes). The ensemble must commit it, every
member must drop the ephemerals, and every member must start again from its files and
hold the same tree (real processes; the txn log reads such an entry back, and peer
links carry it cut into frames)."""

from __future__ import annotations

import asyncio

import pytest

from coord.client.client import CoordClient
from tests.coord_ensemble.harness import Ensemble
from tests.support.waiting import wait_until

FRAME_CAP = 64 << 20
TICK_MS = 1000  # see test_wiped_member.py: big snapshots block a member's loop a while


async def _make_ephemerals(hosts: str, count: int, name_len: int) -> None:
    owner = CoordClient(hosts, session_timeout=30.0)
    await owner.start()
    try:
        await owner.create("/eph", b"")
        sem = asyncio.Semaphore(64)

        async def one(i: int) -> None:
            async with sem:
                await owner.create(f"/eph/{i:06d}" + "x" * (name_len - 6), b"", ephemeral=True)

        await asyncio.gather(*(one(i) for i in range(count)))
    finally:
        await owner.stop()  # closeSession: one txn listing every path


async def _children(host: str) -> int:
    """How many ephemerals are left (from the parent's stat: listing them would exceed a
    client's 1 MiB frame)."""
    async with CoordClient(host, session_timeout=10.0) as client:
        stat = await client.exists("/eph")
        assert stat is not None
        return stat.numChildren


def _close_and_restart(ens: Ensemble, count: int, name_len: int) -> None:
    assert count * (name_len + 5) > FRAME_CAP, "the closeSession txn must pass the frame cap"
    ens.start()
    ens.wait_leader()
    asyncio.run(_make_ephemerals(ens.hosts(), count, name_len))
    for sid in ens.sids:
        wait_until(
            f"member {sid} dropped the ephemerals",
            lambda sid=sid: asyncio.run(_children(f"127.0.0.1:{ens.client_port[sid]}")) == 0,
            timeout=120,
        )
    zxid = ens.wait_same_zxid(timeout=60)
    for sid in ens.sids:
        assert ens.stop(sid) == 0
    ens.start()
    ens.wait_leader(timeout=120)
    assert ens.wait_same_zxid(timeout=120) >= zxid
    for sid in ens.sids:  # polled: a member just restarted may still be joining
        wait_until(
            f"member {sid} serves the tree without the ephemerals after restart",
            lambda sid=sid: asyncio.run(_children(f"127.0.0.1:{ens.client_port[sid]}")) == 0,
            timeout=60,
        )


@pytest.mark.timeout(600)
def test_closing_a_session_whose_txn_passes_the_frame_cap(ensemble) -> None:
    # 10k ephemerals with 7 KB names: a 70 MB closeSession, light to create.
    _close_and_restart(ensemble(3, tick_ms=TICK_MS), count=10_000, name_len=7_000)


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_closing_a_session_with_a_hundred_thousand_ephemerals(ensemble) -> None:
    _close_and_restart(ensemble(3, tick_ms=TICK_MS), count=100_000, name_len=700)
