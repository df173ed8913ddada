"""How long a coord snapshot blocks the event loop: the tree packed whole vs in bounded steps.

Builds a data tree in this process (by default 118 znodes of 1 MiB plus 100,000 small
ones, ~128 MiB), then, in turn for --rounds rounds, packs a snapshot of it the old way
(`pack_tree`: the whole tree between two applies, on the loop) and the new way (a
`TreeImage` packed by `pack_image_steps`, yielding to the loop after each step while a
writer task applies a setData every millisecond, as commits would). A ticker task asks
to wake every 5 ms; the largest delay it sees during a pack is the longest the loop was
blocked. Two controls give the machine's own floor: an idle second, and 1.5 s of CPU work
in 1 ms slices that yield (on a loaded machine a busy process waits for a core too).
Prints each run and the medians. Usage:

    python benchmarks/coord_snapshot_lag.py --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coord.server import txn as T
from coord.server.datatree import OPEN_ACL, DataTree
from coord.server.snapshot import pack_image_steps, pack_tree
from coord.server.txn import Txn

TICK = 0.005


def build(big: int, big_size: int, small: int, small_size: int) -> DataTree:
    tree = DataTree()
    zxid = 0

    def create(path: str, data: bytes) -> None:
        nonlocal zxid
        zxid += 1
        tree.apply(Txn(zxid, 0, 0, T.CREATE, [path, data, OPEN_ACL, 0]))

    create("/big", b"")
    create("/small", b"")
    for i in range(big):
        create(f"/big/n{i:05d}", bytes([i % 251]) * big_size)
    for i in range(small):
        create(f"/small/n{i:07d}", b"s" * small_size)
    return tree


class Ticker:
    """Wakes every TICK seconds and keeps the largest lateness seen since `reset`."""

    def __init__(self) -> None:
        self.worst = 0.0

    def reset(self) -> None:
        self.worst = 0.0

    async def run(self) -> None:
        while True:
            due = time.monotonic() + TICK
            await asyncio.sleep(TICK)
            self.worst = max(self.worst, time.monotonic() - due)


async def whole(tree: DataTree, _targets: list[tuple[str, bytes]]) -> int:
    return len(pack_tree(tree))


async def stepped(tree: DataTree, targets: list[tuple[str, bytes]]) -> int:
    writes = asyncio.create_task(_writer(tree, targets))
    image = tree.attach_image()
    try:
        size = 0
        for part in pack_image_steps(image):
            size += len(part)
            await asyncio.sleep(0)
    finally:
        tree.detach_image(image)
        writes.cancel()
    return size


def _targets(tree: DataTree) -> list[tuple[str, bytes]]:
    """What the writer sets, alternately a big znode and a small one, each to data of its
    own size (the tree stays as big). Chosen before any timing: a walk of the tree
    would show up as lag."""
    big = [(p, n.data) for p, n in tree.nodes.items() if p.startswith("/big/")][:50]
    small = [(p, n.data) for p, n in tree.nodes.items() if p.startswith("/small/")][:50]
    return [t for pair in zip(big, small, strict=False) for t in pair] or big or small


async def _writer(tree: DataTree, targets: list[tuple[str, bytes]]) -> None:
    """A setData every ms, as commits landing during the pack."""
    i = 0
    while targets:
        await asyncio.sleep(0.001)
        path, data = targets[i % len(targets)]
        tree.apply(Txn(tree.last_zxid + 1, 0, 0, T.SET_DATA, [path, data]))
        i += 1


async def idle(_tree: DataTree, _targets: list[tuple[str, bytes]]) -> int:
    """A noise floor: the loop's worst lateness over a second of doing nothing."""
    await asyncio.sleep(1.0)
    return 0


async def busy(_tree: DataTree, _targets: list[tuple[str, bytes]]) -> int:
    """The floor for a busy process: 1.5 s of CPU work in 1 ms slices, yielding after
    each (on a loaded machine the kernel makes a process that keeps a core busy wait
    longer for it than one that mostly sleeps)."""
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        spin = time.monotonic() + 0.001
        while time.monotonic() < spin:
            pass
        await asyncio.sleep(0)
    return 0


async def main_async(args: argparse.Namespace) -> dict:
    tree = build(args.big, args.big_size, args.small, args.small_size)
    targets = _targets(tree)
    ticker = Ticker()
    tick_task = asyncio.create_task(ticker.run())
    figures: dict[str, list[tuple[float, float]]] = {"whole": [], "stepped": [], "idle": [], "busy": []}
    try:
        for r in range(args.rounds):
            for name, pack in (
                (("whole", whole), ("stepped", stepped), ("idle", idle), ("busy", busy))
                if r % 2 == 0
                else (("stepped", stepped), ("whole", whole), ("busy", busy), ("idle", idle))
            ):
                await asyncio.sleep(0.2)
                ticker.reset()
                start = time.monotonic()
                size = await pack(tree, targets)
                took = time.monotonic() - start
                await asyncio.sleep(2 * TICK)  # the tick that was due during the last step
                figures[name].append((took, ticker.worst))
                print(
                    f"round {r + 1} {name:7}: {size / 2**20:.0f} MiB packed in {took * 1000:.0f} ms, "
                    f"loop blocked at most {ticker.worst * 1000:.1f} ms",
                    flush=True,
                )
    finally:
        tick_task.cancel()
    return {
        name: {
            "pack_ms_median": 1000 * statistics.median(t for t, _ in rows),
            "max_loop_lag_ms_median": 1000 * statistics.median(w for _, w in rows),
            "max_loop_lag_ms_worst": 1000 * max(w for _, w in rows),
        }
        for name, rows in figures.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--big", type=int, default=118, help="znodes of --big-size bytes (default 118)")
    parser.add_argument("--big-size", type=int, default=1 << 20)
    parser.add_argument("--small", type=int, default=100_000, help="znodes of --small-size bytes (default 100000)")
    parser.add_argument("--small-size", type=int, default=100)
    print(json.dumps(asyncio.run(main_async(parser.parse_args()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
