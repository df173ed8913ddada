"""Differential: the same seeded random workload through CoordClient against a real
ZooKeeper and against our server must give the same results (values, error types, the
comparable Stat fields, sequential names, multi outcomes). zxids and times are not
compared: they depend on each server's history (sessions also consume zxids)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coord.client import CoordClient
from coord.protocol import records as R
from coord.protocol.errors import CoordError
from tests.coord_client.conftest import _running
from tests.support.waiting import wait_until_async

NAMES = ["/d", "/d/a", "/d/b", "/d/a/x", "/d/a/y", "/d/b/z", "/d/s-"]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    base: Path = tmp_path_factory.mktemp("diff")
    with _running("zookeeper", base / "zk") as zk, _running("coord", base / "coord") as ours:
        yield zk.hosts, ours.hosts


def shape(value: Any) -> Any:
    if isinstance(value, R.Stat):
        return (
            value.version,
            value.cversion,
            value.aversion,
            value.dataLength,
            value.numChildren,
            value.ephemeralOwner != 0,
            value.czxid == value.mzxid,
            value.pzxid >= value.czxid,
        )
    if isinstance(value, CoordError):
        return type(value).__name__
    if isinstance(value, (list, tuple)):
        return [shape(v) for v in value]
    return value


async def one_op(c: CoordClient, rnd: random.Random) -> Any:
    path = rnd.choice(NAMES)
    kind = rnd.choice(["create", "create", "delete", "set", "get", "exists", "children", "multi"])
    version = rnd.choice([-1, -1, 0, 1, 2])
    if kind == "create":
        return await c.create(
            path,
            rnd.choice([b"", b"v", None]),
            ephemeral=rnd.random() < 0.3,
            sequence=path.endswith("-") or (path != "/d" and rnd.random() < 0.2),
        )
    if kind == "delete":
        return await c.delete(path, version=version)
    if kind == "set":
        return await c.set(path, b"x" * rnd.randint(0, 5), version=version)
    if kind == "get":
        return await c.get(path)
    if kind == "exists":
        return await c.exists(path)
    if kind == "children":
        children, stat = await c.get_children(path, include_data=True)
        return sorted(children), stat
    t = c.transaction()
    for _ in range(rnd.randint(1, 3)):
        p = rnd.choice(NAMES)
        rnd.choice(
            [
                lambda p=p: t.create(p, b"m"),
                lambda p=p: t.delete(p, version),
                lambda p=p: t.set_data(p, b"n", version),
                lambda p=p: t.check(p, version),
            ]
        )()
    return await t.commit()


async def run_workload(hosts: str, seed: int) -> tuple[list[Any], list[Any]]:
    """(results, events a second session's recursive watch on /d saw)."""
    rnd = random.Random(seed)
    out: list[Any] = []
    events: list[Any] = []
    async with CoordClient(hosts) as c, CoordClient(hosts) as observer:
        await c.create("/d", b"root")
        await observer.add_watch("/d", lambda e: events.append((int(e.type), e.path)), recursive=True)
        for _ in range(150):
            try:
                out.append(shape(await one_op(c, rnd)))
            except CoordError as e:
                out.append(shape(e))
        await observer.sync("/")
        out.append(len(events))  # the tail (recursive delete) comes in child order,
        await c.delete("/d", recursive=True)  # which is a hash order on ZooKeeper
        await observer.sync("/")
        await wait_until_async("the delete event on /d", lambda: events[-1:] == [(2, "/d")], 5)
    return out, events


@pytest.mark.zookeeper
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_same_results_as_real_zookeeper(both: tuple[str, str], seed: int) -> None:
    zk_hosts, our_hosts = both
    theirs, their_events = await run_workload(zk_hosts, seed)
    ours, our_events = await run_workload(our_hosts, seed)
    for i, (mine, real) in enumerate(zip(ours, theirs, strict=True)):
        assert mine == real, f"seed {seed}, op {i}: ours {mine} vs ZooKeeper {real}"
    n = ours[-1]
    assert n > 10 and our_events[:n] == their_events[:n]
    assert sorted(our_events[n:]) == sorted(their_events[n:])
