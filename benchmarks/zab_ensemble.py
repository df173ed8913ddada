"""`PYTHONPATH=$PWD python benchmarks/zab_ensemble.py`: write throughput and failover of a 3-member
ZabNode ensemble on loopback with fsynced files, all in one process.

All three members share one event loop and one CPU here, so the figures are a lower
bound for the core plus shell (separate processes get a core each). It must never be
run as part of the test suite: it is a measurement, not a check.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from coord.zab import NotLeaderError
from coord.zab.node import ZabNode
from tests.coord_zab.ensemble import (
    CONFIG,
    ListMachine,
    loopback_addresses,
    serving_leader,
    start_and_elect,
)
from tests.coord_zab.filestore import FileStorage


async def _writes(leader: ZabNode, count: int, window: int, size: int) -> float:
    payload = b"x" * size
    sem = asyncio.Semaphore(window)

    async def one() -> None:
        async with sem:
            await leader.write(payload)

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - start)


async def _first_write_after(nodes: dict[int, ZabNode]) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < 30:
        leader = serving_leader(nodes)
        if leader is not None:
            try:
                await leader.write(b"after-failover")
                return time.perf_counter() - start
            except NotLeaderError:
                pass
        await asyncio.sleep(0.005)
    raise RuntimeError("no leader within 30 s")


async def main(count: int, window: int, size: int) -> None:
    addresses = loopback_addresses(3)
    with tempfile.TemporaryDirectory() as tmp:
        nodes = {
            sid: ZabNode(sid, addresses, FileStorage(Path(tmp) / f"s{sid}"), ListMachine(), CONFIG) for sid in addresses
        }
        try:
            leader = await start_and_elect(nodes)
            rate = await _writes(leader, count, window, size)
            print(f"writes: {count} x {size} B, window {window}: {rate:,.0f} ops/s")
            await leader.stop()
            rest = {sid: n for sid, n in nodes.items() if sid != leader.sid}
            took = await _first_write_after(rest)
            print(
                f"failover (leader stopped -> first committed write): {took * 1000:.0f} ms "
                f"(tick {CONFIG.tick * 1000:.0f} ms, syncLimit {CONFIG.sync_limit} ticks)"
            )
        finally:
            for node in nodes.values():
                await node.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=1000, help="writes in flight")
    parser.add_argument("--size", type=int, default=100, help="bytes per write")
    args = parser.parse_args()
    asyncio.run(main(args.count, args.window, args.size))
