"""Election and Lock with several clients on real servers: one leader at a time, the
next candidate takes over, mutual exclusion, no herd, and loss of the session ends
leadership / the lock."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack

import pytest

from coord.client import CoordClient
from coord.recipes import Election, LeadershipLostError, Lock
from tests.support.faultproxy import FaultProxy
from tests.support.waiting import wait_until_async


async def clients(stack: AsyncExitStack, hosts: str, n: int) -> list[CoordClient]:
    return [await stack.enter_async_context(CoordClient(hosts, session_timeout=8)) for _ in range(n)]


async def test_one_leader_at_a_time_and_the_next_takes_over(zk_server) -> None:
    async with AsyncExitStack() as stack:
        cs = await clients(stack, zk_server.hosts, 3)
        leading: list[str] = []
        history: list[str] = []
        resign = {f"c{i}": asyncio.Event() for i in range(3)}

        async def lead(name: str) -> str:
            leading.append(name)
            history.append(name)
            try:
                assert len(leading) == 1, leading
                await resign[name].wait()
            finally:
                leading.remove(name)
            return name

        elections = [Election(c, "/elect", f"c{i}") for i, c in enumerate(cs)]
        runs = []
        for i, e in enumerate(elections):
            runs.append(asyncio.ensure_future(e.run(lead, f"c{i}")))
            for _ in range(250):  # queue in a known order
                if len(await e.contenders()) == i + 1:
                    break
                await asyncio.sleep(0.02)
        assert await elections[2].contenders() == ["c0", "c1", "c2"] and history == ["c0"]
        resign["c0"].set()  # leader resigns
        assert await runs[0] == "c0"
        await wait_until_async("c1 elected after c0", lambda: history == ["c0", "c1"], 5)
        await cs[1].stop()  # leader's session closes
        with pytest.raises(LeadershipLostError):
            await runs[1]
        await wait_until_async("c2 elected after c1", lambda: history == ["c0", "c1", "c2"], 5)
        resign["c2"].set()
        assert await runs[2] == "c2"


async def test_lock_mutual_exclusion_without_herd(zk_server) -> None:
    async with AsyncExitStack() as stack:
        cs = await clients(stack, zk_server.hosts, 4)
        inside: list[int] = []
        max_inside = 0
        done = 0

        async def worker(i: int, c: CoordClient) -> None:
            nonlocal max_inside, done
            for _ in range(3):
                async with Lock(c, "/locks/mutex", f"w{i}"):
                    inside.append(i)
                    max_inside = max(max_inside, len(inside))
                    await asyncio.sleep(0.01)
                    inside.remove(i)
                    done += 1

        holder = Lock(cs[0], "/locks/herd", "holder")
        assert await holder.acquire(timeout=5)
        waiters = [Lock(c, "/locks/herd", f"w{i}") for i, c in enumerate(cs[1:])]
        pending = [asyncio.ensure_future(w.acquire()) for w in waiters]
        await wait_until_async(
            "every waiter watching its predecessor",
            lambda: all(c.core.watches.data or c.core.watches.exist for c in cs[1:]),
            5,
        )
        watched = [set(c.core.watches.data) | set(c.core.watches.exist) for c in cs[1:]]
        assert all(len(w) == 1 for w in watched)  # each waiter watches one node...
        assert len(set().union(*watched)) == 3  # ...its own predecessor
        queue = await waiters[0].contenders()
        assert queue[0] == "holder" and sorted(queue[1:]) == ["w0", "w1", "w2"]
        await holder.release()
        for name in queue[1:]:  # the lock passes down the queue
            i = int(name[1:])
            assert await asyncio.wait_for(pending[i], 5) and waiters[i].is_held
            assert sum(w.is_held for w in waiters) == 1
            await waiters[i].release()
        await asyncio.gather(*(worker(i, c) for i, c in enumerate(cs)))
        assert max_inside == 1 and done == 12


async def test_lock_acquire_times_out_and_leaves_the_queue(zk_server) -> None:
    async with AsyncExitStack() as stack:
        a, b = await clients(stack, zk_server.hosts, 2)
        held = Lock(a, "/locks/timeout")
        assert await held.acquire()
        started = time.monotonic()
        assert not await Lock(b, "/locks/timeout").acquire(timeout=0.3)
        assert time.monotonic() - started < 3
        assert len(await b.get_children("/locks/timeout")) == 1
        await held.release()


async def test_suspended_session_ends_leadership_and_lock(zk_server) -> None:
    with FaultProxy(zk_server.port) as proxy:
        async with CoordClient(f"127.0.0.1:{proxy.listen_port}", session_timeout=8) as c:
            lock = Lock(c, "/locks/suspend")
            assert await lock.acquire(timeout=5) and lock.is_held
            election = Election(c, "/elect-suspend", "x")
            leading = asyncio.Event()

            async def lead() -> None:
                leading.set()
                await asyncio.sleep(60)

            run = asyncio.ensure_future(election.run(lead))
            await asyncio.wait_for(leading.wait(), 5)
            proxy.cut()
            await asyncio.wait_for(lock.lost.wait(), 5)
            assert not lock.is_held
            with pytest.raises(LeadershipLostError):
                await asyncio.wait_for(run, 5)
            proxy.heal()
            await c.wait_connected(10)
            await lock.release()
