"""Concurrent clients on a few znodes while the leader is killed, paused and cut off: the
recorded history must be linearizable and each client's reads sequential.

Six `CoordClient` sessions, spread over the members, do setData with a version (cas),
blind setData and sync+getData on three znodes. A call that fails with a connection
error (or gets no answer in time) has an unknown outcome: it is recorded as never
returned, so the checker may place it anywhere after its call, or nowhere.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from coord.client import CoordClient
from coord.client.client import ConnState
from coord.protocol.errors import BadVersionError, CoordError, SessionExpiredError
from tests.coord_ensemble.harness import Ensemble
from tests.support.linearizability import Op, check, check_sequential_per_client
from tests.support.waiting import wait_until, wait_until_async

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

KEYS = ["/lin/a", "/lin/b", "/lin/c"]
CLIENTS = 6
CALL_TIMEOUT = 8.0
SERVED_BETWEEN_FAULTS = 60  # operations completed before each fault and after the last: 4 x 60 > 200 judged
SESSION_TIMEOUT = 5.0  # the most tick 250 ms allows; every fault heals well within it


async def _client(
    index: int, hosts: str, history: list[Op], stop: asyncio.Event, seed: int, expired: list[int]
) -> None:
    rng = random.Random(seed * 1000 + index)
    client = CoordClient(hosts, session_timeout=SESSION_TIMEOUT)
    await client.start(timeout=30)
    seen: dict[str, int] = dict.fromkeys(KEYS, 0)
    n = 0
    try:
        while not stop.is_set():
            # A call made while disconnected fails before anything is sent: it certainly
            # did not happen, and would only widen the checker's search as "unknown".
            if client.state == ConnState.LOST:
                expired.append(index)  # the ensemble lost a live session: a bug
                return
            if not client.connected:
                await client.wait_connected(0.5)
                continue
            key = rng.choice(KEYS)
            roll = rng.random()
            n += 1
            value = f"c{index}-{n}".encode()
            if roll < 0.4:
                op = Op(index, "cas", key, (seen[key], value))
            elif roll < 0.6:
                op = Op(index, "write", key, value)
            else:
                op = Op(index, "read", key)
            op.call = time.monotonic()
            try:
                if op.kind == "read":
                    await asyncio.wait_for(client.sync(key), CALL_TIMEOUT)
                    data, stat = await asyncio.wait_for(client.get(key), CALL_TIMEOUT)
                    op.result = (data, stat.version)
                    seen[key] = stat.version
                elif op.kind == "write":
                    stat = await asyncio.wait_for(client.set(key, value), CALL_TIMEOUT)
                    op.result = stat.version
                    seen[key] = stat.version
                else:
                    try:
                        stat = await asyncio.wait_for(client.set(key, value, op.arg[0]), CALL_TIMEOUT)
                        op.result = ("ok", stat.version)
                        seen[key] = stat.version
                    except BadVersionError:
                        op.result = ("bad_version",)
                op.ret = time.monotonic()
            except SessionExpiredError:
                expired.append(index)  # the ensemble lost a live session: a bug
                return
            except (TimeoutError, CoordError):
                op.ret = None  # outcome unknown: it may or may not have happened
                await asyncio.sleep(0.05)  # back off before the next operation, not a wait
            history.append(op)
    finally:
        await client.stop()


async def _faults(ens: Ensemble, history: list[Op], rng: random.Random | None = None) -> None:
    """kill -9 a member and restart it; SIGSTOP one and resume it; cut one off and heal
    it. The victim is the leader of the moment, or (with `rng`) any member. Each waits
    for the ensemble to settle and for the clients to complete operations on it."""
    run = asyncio.to_thread

    async def served(count: int = SERVED_BETWEEN_FAULTS) -> None:
        target = _completed(history) + count
        await wait_until_async(f"{count} more completed operations", lambda: _completed(history) >= target, 60)

    async def victim() -> int:
        leader = await run(ens.wait_leader)
        await served()
        return leader if rng is None else rng.choice(ens.sids)

    for hurt, heal in ((ens.kill, ens.start), (ens.pause, ens.resume), (ens.isolate, ens.heal)):
        target = await victim()
        hurt(target)
        await run(ens.wait_leader, [s for s in ens.sids if s != target])
        heal(target)
    await run(ens.wait_leader)
    await served()


def _completed(history: list[Op]) -> int:
    return sum(op.ret is not None for op in history)


async def _linearizable_run(ens: Ensemble, rounds: int, rng: random.Random | None) -> None:
    ens.start()
    await asyncio.to_thread(ens.wait_leader)
    setup = CoordClient(ens.hosts(), session_timeout=4.0)
    await setup.start(timeout=30)
    await setup.create("/lin")
    for key in KEYS:
        await setup.create(key, b"0")
    await setup.stop()

    history: list[Op] = []
    stop = asyncio.Event()
    seed = random.randrange(1 << 30) if rng is None else rng.randrange(1 << 30)
    expired: list[int] = []
    clients = [
        asyncio.create_task(_client(i, ens.hosts(ens.sids[i % 3 :] + ens.sids[: i % 3]), history, stop, seed, expired))
        for i in range(CLIENTS)
    ]
    try:
        for _ in range(rounds):
            await _faults(ens, history, rng)
    finally:
        stop.set()
        await asyncio.gather(*clients)

    assert not expired, f"the sessions of clients {expired} expired while they were in use"
    done = [op for op in history if op.ret is not None]
    assert len(done) > 200, f"too little completed to judge ({len(done)} of {len(history)})"
    assert any(op.kind == "cas" and op.result[0] == "ok" for op in done)
    verdict = check(history, dict.fromkeys(KEYS, (b"0", 0)))
    assert verdict, f"seed {seed}: {verdict.explanation}"
    per_client = check_sequential_per_client(history)
    assert per_client, f"seed {seed}: {per_client.explanation}"
    await asyncio.to_thread(wait_until, "all members serve", lambda: all(ens.modes().values()))
    await asyncio.to_thread(ens.assert_identical)


async def test_cas_history_is_linearizable_under_leader_faults(ensemble) -> None:
    await _linearizable_run(ensemble(3, proxied=True), rounds=1, rng=None)


@pytest.mark.soak
@pytest.mark.timeout(900)
@pytest.mark.parametrize("seed", range(5))
async def test_soak_cas_history_under_faults_on_any_member(ensemble, seed) -> None:
    await _linearizable_run(ensemble(3, proxied=True), rounds=3, rng=random.Random(seed))
