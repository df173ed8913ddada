"""Seeded random operation sequences run against our server and a real ZooKeeper; every
result (stats with relative zxids, error codes, sequential names, multi results) must
match. A short run by default, a long one under `-m soak`."""

from __future__ import annotations

import random
import threading
import uuid

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import Callback

from tests.coord_server.test_differential import Recorder, started_kazoo

pytestmark = pytest.mark.zookeeper

NAMES = ["a", "b", "c"]


def _path(rng: random.Random, base: str) -> str:
    return base + "".join("/" + rng.choice(NAMES) for _ in range(rng.randint(1, 3)))


def _step(rng: random.Random, kz: KazooClient, r: Recorder, base: str, i: int) -> None:
    kind = rng.choice(["create", "create", "delete", "set", "exists", "children", "multi"])
    path = _path(rng, base)
    version = rng.choice([-1, -1, 0, 1])
    label = f"{i}:{kind}:{path.replace(base, '')}"
    if kind == "create":
        r.call(
            label, kz.create, path, b"d" * rng.randint(0, 3), ephemeral=rng.random() < 0.3, sequence=rng.random() < 0.3
        )
    elif kind == "delete":
        r.call(label, kz.delete, path, version=version)
    elif kind == "set":
        r.call(label, kz.set, path, b"s", version=version)
    elif kind == "exists":
        r.call(label, kz.exists, path)
    elif kind == "children":
        r.call(label, kz.get_children, path)
    else:
        t = kz.transaction()
        for _ in range(rng.randint(1, 3)):
            p = _path(rng, base)
            rng.choice(
                [
                    lambda p=p: t.create(p, b"m"),
                    lambda p=p: t.delete(p, version),
                    lambda p=p: t.set_data(p, b"x", version),
                    lambda p=p: t.check(p, version),
                ]
            )()
        r.call(label, t.commit)


def _run(hosts: str, seed: int, steps: int) -> list:
    with started_kazoo(hosts) as kz:
        base = f"/rand-{uuid.uuid4().hex[:8]}"
        kz.create(base)
        r = Recorder(kz, base)
        rng = random.Random(seed)
        for i in range(steps):
            _step(rng, kz, r, base, i)
        return r.out


def _compare(ours_hosts: str, zk_hosts: str, seed: int, steps: int) -> None:
    ours, theirs = _run(ours_hosts, seed, steps), _run(zk_hosts, seed, steps)
    for mine, real in zip(ours, theirs, strict=True):
        assert mine == real, f"SEED={seed}: first difference at {mine[0]}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequences_match_real_zookeeper(shared_coord, real_zookeeper, seed: int) -> None:
    _compare(shared_coord.hosts, real_zookeeper, seed, 150)


@pytest.mark.soak
def test_random_sequences_soak(shared_coord, real_zookeeper) -> None:
    for seed in range(100, 160):
        _compare(shared_coord.hosts, real_zookeeper, seed, 400)


def _drain_callbacks(kz: KazooClient) -> None:
    """kazoo runs watch callbacks on its own thread, in arrival order: queue a marker
    behind them and wait for it."""
    done = threading.Event()
    kz.handler.dispatch_callback(Callback("watch", done.set, ()))
    assert done.wait(10)


def _watch_run(hosts: str, seed: int, steps: int) -> list:
    """Client A sets random one-shot watches, client B writes; A's event sequence (read
    after a barrier read, which the watch-before-data rule makes complete) is recorded."""
    with started_kazoo(hosts) as a, started_kazoo(hosts) as b:
        base = f"/wrand-{uuid.uuid4().hex[:8]}"
        b.create(base)
        ra, rb = Recorder(a, base), Recorder(b, base)
        rng = random.Random(seed)
        for i in range(steps):
            path = _path(rng, base)
            how = rng.choice(["exists", "get", "children"])
            fn = {"exists": a.exists, "get": a.get, "children": a.get_children}[how]
            ra.call(f"{i}:watch-{how}", fn, path, watch=ra.watcher)
            _step(rng, b, rb, base, i)
            a.exists("/")  # barrier: every event for b's write has arrived before this reply
            _drain_callbacks(a)  # ... and kazoo's callback thread has delivered them
            with ra.lock:
                ra.out.append((i, "events", list(ra.events)))
                ra.events.clear()
        return ra.out + rb.out


@pytest.mark.parametrize("seed", [7, 8])
def test_random_watch_events_match_real_zookeeper(shared_coord, real_zookeeper, seed: int) -> None:
    ours = _watch_run(shared_coord.hosts, seed, 120)
    theirs = _watch_run(real_zookeeper, seed, 120)
    for mine, real in zip(ours, theirs, strict=True):
        assert mine == real, f"SEED={seed}: first difference at step {mine[0]}"
    assert len(ours) == len(theirs)


@pytest.mark.soak
def test_random_watch_events_soak(shared_coord, real_zookeeper) -> None:
    for seed in range(200, 230):
        ours = _watch_run(shared_coord.hosts, seed, 300)
        assert ours == _watch_run(real_zookeeper, seed, 300), f"SEED={seed}"
