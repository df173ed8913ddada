"""`pybroker perf coord`: create / get / set throughput and latency against a coord
(ZooKeeper-protocol) server, driven by our pipelined CoordClient and by kazoo.

Each driver runs each op two ways: "sync" (one request at a time, so latency-bound) and
"pipelined" (--clients sessions with --pipeline requests in flight each). With
--compare-zookeeper the same run is repeated against a real Apache ZooKeeper started in a
temp dir, and the ratios (ours / ZooKeeper) are printed. kazoo is a test dependency: if
it is missing its rows are skipped with a note.

With --ensemble N the command starts its own N-member coord ensemble (and, with
--compare-zookeeper, a real N-member ZooKeeper ensemble), runs the same table through
every member, then measures failover: kill -9 the leader while one client writes, and
time until the first write succeeds again (--failovers rounds, the killed member
restarted between rounds). This command must never leave znodes
behind (everything lives under one /perf-<id> node, deleted at the end) nor a JVM.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from coord.client import CoordClient
from coord.protocol.errors import CoordError
from launchers.coord_ensemble import LocalEnsemble
from launchers.zookeeper import ZooKeeperEnsemble, running_zookeeper

OPS = ("create", "get", "set")


class Result(NamedTuple):
    ops_per_s: float
    p50_ms: float
    p99_ms: float


def summarize(latencies: list[float], elapsed: float) -> Result:
    lat = sorted(latencies)
    pick = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000) if lat else (lambda q: 0.0)
    return Result(len(lat) / elapsed if elapsed > 0 else 0.0, pick(0.50), pick(0.99))


# -- our client ---------------------------------------------------------------------------


async def _ours_op(c: CoordClient, op: str, path: str, value: bytes) -> None:
    if op == "create":
        await c.create(path, value)
    elif op == "get":
        await c.get(path)
    else:
        await c.set(path, value)


async def _ours_mode(hosts: str, base: str, mode: str, args: argparse.Namespace) -> dict[str, Result]:
    n_clients, depth = (1, 1) if mode == "sync" else (args.clients, args.pipeline)
    clients = [CoordClient(hosts, session_timeout=30) for _ in range(n_clients)]
    for c in clients:
        await c.start()
    try:
        await clients[0].create(base)
        paths = [f"{base}/n{i}" for i in range(args.ops)]
        value = b"x" * args.value_size
        out = {}
        for op in OPS:
            it, lat = iter(paths), list[float]()

            async def worker(c: CoordClient, op: str, it: Iterator[str], lat: list[float]) -> None:
                for p in it:
                    start = time.perf_counter()
                    await _ours_op(c, op, p, value)
                    lat.append(time.perf_counter() - start)

            t0 = time.perf_counter()
            await asyncio.gather(*(worker(c, op, it, lat) for c in clients for _ in range(depth)))
            out[op] = summarize(lat, time.perf_counter() - t0)
        return out
    finally:
        for c in clients:
            await c.stop()


# -- kazoo ----------------------------------------------------------------------------------


def _kazoo_mode(hosts: str, base: str, mode: str, args: argparse.Namespace) -> dict[str, Result]:
    from kazoo.client import KazooClient

    kz = KazooClient(hosts=hosts, timeout=30)
    kz.start(timeout=30)
    try:
        kz.create(base)
        paths = [f"{base}/n{i}" for i in range(args.ops)]
        value = b"x" * args.value_size
        calls: dict[str, tuple[Callable, Callable]] = {
            "create": (lambda p: kz.create(p, value), lambda p: kz.create_async(p, value)),
            "get": (kz.get, kz.get_async),
            "set": (lambda p: kz.set(p, value), lambda p: kz.set_async(p, value)),
        }
        out = {}
        for op in OPS:
            sync_call, async_call = calls[op]
            t0 = time.perf_counter()
            lat = _kazoo_sync(sync_call, paths) if mode == "sync" else _kazoo_window(async_call, paths, args.pipeline)
            out[op] = summarize(lat, time.perf_counter() - t0)
        return out
    finally:
        kz.stop()
        kz.close()


def _kazoo_sync(call: Callable, paths: list[str]) -> list[float]:
    lat = []
    for p in paths:
        start = time.perf_counter()
        call(p)
        lat.append(time.perf_counter() - start)
    return lat


def _kazoo_window(call: Callable, paths: list[str], depth: int) -> list[float]:
    """Keep `depth` async requests in flight on kazoo's one connection."""
    lat: list[float] = []
    slots = threading.Semaphore(depth)
    done = threading.Semaphore(0)
    for p in paths:
        slots.acquire()
        start = time.perf_counter()

        def finished(_result: Any, start: float = start) -> None:
            lat.append(time.perf_counter() - start)
            slots.release()
            done.release()

        call(p).rawlink(finished)
    for _ in paths:
        done.acquire(timeout=60)
    return lat


# -- the run ------------------------------------------------------------------------------


def bench_target(hosts: str, args: argparse.Namespace) -> dict[tuple[str, str, str], Result]:
    """{(driver, mode, op): Result} for one server."""
    run_id = uuid.uuid4().hex[:8]
    results: dict[tuple[str, str, str], Result] = {}
    for driver in args.drivers:
        for mode in ("sync", "pipelined"):
            base = f"/perf-{run_id}-{driver}-{mode}"
            if driver == "ours":
                rows = asyncio.run(_ours_mode(hosts, base, mode, args))
            else:
                rows = _kazoo_mode(hosts, base, mode, args)
            for op, res in rows.items():
                results[(driver, mode, op)] = res
    asyncio.run(_cleanup(hosts, f"/perf-{run_id}-"))
    return results


async def _cleanup(hosts: str, prefix: str) -> None:
    async with CoordClient(hosts) as c:
        for child in await c.get_children("/"):
            if f"/{child}".startswith(prefix):
                await c.delete(f"/{child}", recursive=True)


# -- failover ------------------------------------------------------------------------------


async def _failover_once(hosts: str, path: str, kill_leader: Callable[[], None]) -> float:
    """Seconds from SIGKILL of the leader to the first successful write after it."""
    async with CoordClient(hosts, session_timeout=10) as c:
        for _ in range(20):
            await c.set(path, b"before")
        await asyncio.to_thread(kill_leader)
        killed = time.perf_counter()
        while time.perf_counter() - killed < 60:
            try:
                await c.set(path, b"after")
                return time.perf_counter() - killed
            except CoordError:
                await asyncio.sleep(0.005)
        raise TimeoutError("no write succeeded within 60 s of killing the leader")


def bench_failover(ensemble: Any, rounds: int) -> list[float]:
    """kill -9 the leader `rounds` times (restarting it in between); the failover times."""
    path = f"/perf-failover-{uuid.uuid4().hex[:8]}"

    async def setup() -> None:
        async with CoordClient(ensemble.hosts) as c:
            await c.create(path)

    asyncio.run(setup())
    times = []
    for _ in range(rounds):
        leader = ensemble.leader()
        if leader is None:
            raise RuntimeError("no single leader to kill")
        times.append(asyncio.run(_failover_once(ensemble.hosts, path, functools.partial(ensemble.kill, leader))))
        ensemble.restart(leader)
        deadline = time.monotonic() + 60
        while ensemble.leader() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    return times


def print_failover(name: str, times: list[float]) -> None:
    shown = ", ".join(f"{t * 1000:.0f}" for t in times)
    print(
        f"\n{name}: failover (kill -9 leader -> first write) ms: {shown}; "
        f"median {sorted(times)[len(times) // 2] * 1000:.0f}"
    )


def print_results(name: str, hosts: str, results: dict[tuple[str, str, str], Result]) -> None:
    print(f"\n{name} ({hosts})")
    print(f"  {'driver':7} {'mode':10} {'op':7} {'ops/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for (driver, mode, op), r in results.items():
        print(f"  {driver:7} {mode:10} {op:7} {r.ops_per_s:10.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f}")


def print_ratios(ours: dict, theirs: dict) -> None:
    print("\nratio server / zookeeper (ops/s; > 1 means the server is faster)")
    for key, r in ours.items():
        if key in theirs and theirs[key].ops_per_s:
            driver, mode, op = key
            print(f"  {driver:7} {mode:10} {op:7} {r.ops_per_s / theirs[key].ops_per_s:6.2f}")


def run(args: argparse.Namespace) -> int:
    logging.getLogger("kazoo").setLevel(logging.WARNING)  # its connect/close lines drown the table
    args.drivers = ["ours"]
    try:
        import kazoo  # noqa: F401

        args.drivers.append("kazoo")
    except ImportError:
        print("kazoo is not installed: only our CoordClient is measured (pip install kazoo)")
    print(
        f"ops per run {args.ops}, value {args.value_size} B, pipelined: "
        f"{args.clients} clients x {args.pipeline} in flight (kazoo: 1 client)"
    )
    if args.ensemble:
        return run_ensembles(args)
    try:
        ours = bench_target(args.servers, args)
    except (CoordError, OSError) as e:
        print(f"perf coord against {args.servers}: {e}")
        return 1
    print_results("server", args.servers, ours)
    if args.compare_zookeeper:
        with running_zookeeper() as zk:
            theirs = bench_target(zk.hosts, args)
        print_results("real ZooKeeper", zk.hosts, theirs)
        print_ratios(ours, theirs)
    return 0


def run_ensembles(args: argparse.Namespace) -> int:
    """Our N-member ensemble, then (--compare-zookeeper) a real one: table + failover."""
    makers: list[tuple[str, Callable[[], Any]]] = [
        (f"coord ensemble of {args.ensemble}", lambda: LocalEnsemble(args.ensemble, args.tick_ms))
    ]
    if args.compare_zookeeper:
        makers.append(
            (f"real ZooKeeper ensemble of {args.ensemble}", lambda: ZooKeeperEnsemble(args.ensemble, args.tick_ms))
        )
    tables, failovers = [], []
    for name, make in makers:
        ensemble = make()
        try:
            ensemble.start()
            tables.append(bench_target(ensemble.hosts, args))
            print_results(name, ensemble.hosts, tables[-1])
            failovers.append(bench_failover(ensemble, args.failovers))
            print_failover(name, failovers[-1])
        finally:
            ensemble.close()
    if len(tables) == 2:
        print_ratios(tables[0], tables[1])
        ours, theirs = (sorted(f)[len(f) // 2] for f in failovers)
        print(
            f"  failover median: ours {ours * 1000:.0f} ms, ZooKeeper {theirs * 1000:.0f} ms "
            f"(goal: within 2 x tickTime = {2 * args.tick_ms} ms of ZooKeeper's or better)"
        )
    return 0
