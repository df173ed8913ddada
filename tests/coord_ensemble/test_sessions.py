"""Sessions are global: when the member a client is connected to dies, kazoo and our
CoordClient reattach the same session on another member, and its ephemerals survive."""

from __future__ import annotations

import asyncio
import time

import pytest

from coord.client import CoordClient
from coord.client.four_letter import four_letter
from tests.coord_ensemble.harness import Ensemble, kazoo
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]

SESSION_TIMEOUT = 5.0  # the most tick 250 ms allows (20 ticks): room for an election


async def _client_on(ens: Ensemble, target: int) -> CoordClient:
    """A CoordClient that knows every member but is connected to `target` (it shuffles
    its host list, so open sessions until one lands there)."""
    for _ in range(30):
        client = CoordClient(ens.hosts(), session_timeout=SESSION_TIMEOUT)
        await client.start(timeout=30)
        cons = await asyncio.to_thread(four_letter, "127.0.0.1", ens.client_port[target], "cons")
        if f"sid=0x{client.session_id & (2**64 - 1):x}" in cons:
            return client
        await client.stop()
    raise AssertionError(f"no session landed on member {target} in 30 tries")


@pytest.mark.parametrize("victim", ["leader", "follower"])
async def test_sessions_move_to_another_member_with_their_ephemerals(ensemble, victim) -> None:
    ens: Ensemble = ensemble(3)
    ens.start()
    leader = await asyncio.to_thread(ens.wait_leader)
    target = leader if victim == "leader" else next(s for s in ens.sids if s != leader)
    order = [target] + [s for s in ens.sids if s != target]

    zk = await asyncio.to_thread(kazoo, ens.hosts(order), SESSION_TIMEOUT, randomize_hosts=False)
    ours = await _client_on(ens, target)
    try:
        zk_session = zk.client_id[0]
        our_session = ours.session_id
        await asyncio.to_thread(zk.create, "/eph-kazoo", b"k", ephemeral=True)
        await ours.create("/eph-ours", b"o", ephemeral=True)

        ens.kill(target)
        await asyncio.to_thread(ens.wait_leader, [s for s in ens.sids if s != target])
        # both come back on a survivor, with the session they had
        await asyncio.to_thread(wait_until, "kazoo reconnected", lambda: zk.connected and zk.client_id[0] == zk_session)
        assert await ours.wait_connected(30)
        assert ours.session_id == our_session
        # and both can use it: their ephemerals are there, seen from a third session
        await asyncio.to_thread(zk.create, "/after-kazoo", b"1")
        await ours.create("/after-ours", b"1")
        third = await asyncio.to_thread(kazoo, ens.hosts([s for s in ens.sids if s != target]))
        try:
            owners = {p: third.exists(p).ephemeralOwner for p in ("/eph-kazoo", "/eph-ours")}
        finally:
            third.stop()
            third.close()
        assert owners == {"/eph-kazoo": zk_session, "/eph-ours": our_session}
        # a full session timeout later the sessions are still alive (pings reach the leader):
        # letting that time pass is the point, so this sleep is the test's subject
        await asyncio.sleep(SESSION_TIMEOUT * 1.5)
        assert (await ours.exists("/eph-kazoo")) is not None
        assert (await ours.exists("/eph-ours")) is not None
    finally:
        await ours.stop()
        zk.stop()
        zk.close()


def test_a_leader_paused_past_the_session_timeout_does_not_refuse_live_sessions(ensemble) -> None:
    """On waking, the old leader expires every session it has not heard of for a
    session timeout (it cannot commit that); once it follows, a live session that
    moves to it must be accepted."""
    ens: Ensemble = ensemble(3)
    ens.start()
    old = ens.wait_leader()
    first, second = [s for s in ens.sids if s != old]
    zk = kazoo(ens.hosts([first, old]), SESSION_TIMEOUT, randomize_hosts=False)
    states: list[str] = []
    zk.add_listener(states.append)
    try:
        session = zk.client_id[0]
        zk.create("/eph", b"1", ephemeral=True)
        ens.pause(old)
        new = ens.wait_leader([first, second])
        time.sleep(SESSION_TIMEOUT + 1)  # the subject: the old leader stays paused past the timeout
        ens.resume(old)
        wait_until(f"member {old} follows", lambda: ens.mode(old) == "follower")
        # the session's member dies: its only other choice is the old leader
        ens.kill(first)
        if new == first:
            ens.wait_leader([old, second])
        wait_until(
            "kazoo back on the old leader",
            lambda: zk.connected and zk.client_id[0] == session and zk.create_async("/moved", b"1").get(timeout=5),
        )
        assert "LOST" not in states
        assert zk.exists("/eph").ephemeralOwner == session
    finally:
        zk.stop()
        zk.close()
