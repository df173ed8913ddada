"""The same scenarios against our server and a real Apache ZooKeeper 3.8; the observed
stats (zxids relative to the scenario's first write, times dropped), error codes, results
and watch event sequences must be identical."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from kazoo import exceptions as ke
from kazoo.client import KazooClient
from kazoo.security import ACL, Id

pytestmark = pytest.mark.zookeeper

Observations = list


class Recorder:
    """Runs kazoo calls and records what a user could observe, server-neutral."""

    def __init__(self, kz: KazooClient, base: str) -> None:
        self.kz, self.base = kz, base
        self.origin = kz.exists(base).czxid
        self.out: Observations = []
        self.events: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def rel(self, zxid: int) -> int:
        return zxid - self.origin if zxid else 0

    def stat(self, stat) -> tuple:
        if stat is None:
            return ("none",)
        return (
            self.rel(stat.czxid),
            self.rel(stat.mzxid),
            stat.version,
            stat.cversion,
            stat.aversion,
            bool(stat.ephemeralOwner),
            stat.dataLength,
            stat.numChildren,
            self.rel(stat.pzxid),
        )

    def call(self, label: str, fn: Callable, *args, **kwargs) -> None:
        try:
            result = fn(*args, **kwargs)
        except ke.KazooException as e:
            self.out.append((label, "error", type(e).__name__))
            return
        self.out.append((label, "ok", self.shape(result)))

    def shape(self, result):
        if isinstance(result, Exception):
            return type(result).__name__
        if hasattr(result, "czxid"):
            return self.stat(result)
        if isinstance(result, tuple):
            return tuple(self.shape(x) for x in result)
        if isinstance(result, list):
            items = [self.shape(x) for x in result]
            return sorted(items) if all(isinstance(x, str) for x in result) else items
        if isinstance(result, str):
            return result.replace(self.base, "<base>")
        return result

    def watcher(self, event) -> None:
        with self.lock:
            self.events.append((event.type, event.path.replace(self.base, "<base>")))


def scenario(kz: KazooClient) -> tuple[Observations, list]:
    base = f"/diff-{uuid.uuid4().hex[:8]}"
    kz.create(base)
    r = Recorder(kz, base)
    b = base
    r.call("create", kz.create, f"{b}/a", b"one")
    r.call("create-null", kz.create, f"{b}/null")
    r.call("get-null", kz.get, f"{b}/null")
    r.call("exists-watch", kz.exists, f"{b}/later", watch=r.watcher)
    r.call("get-watch", kz.get, f"{b}/a", watch=r.watcher)
    r.call("children-watch", kz.get_children, b, watch=r.watcher)
    r.call("dup", kz.create, f"{b}/a")
    r.call("no-parent", kz.create, f"{b}/x/y")
    r.call("set", kz.set, f"{b}/a", b"two", version=0)
    r.call("set-badversion", kz.set, f"{b}/a", b"three", version=0)
    r.call("seq1", kz.create, f"{b}/s-", sequence=True)
    r.call("delete-a", kz.delete, f"{b}/a")
    r.call("seq2", kz.create, f"{b}/s-", sequence=True)
    r.call("later", kz.create, f"{b}/later", ephemeral=True)
    r.call("eph-child", kz.create, f"{b}/later/c")
    r.call("notempty", kz.delete, b)
    r.call("delete-reserved", kz.delete, "/zookeeper/quota")
    r.call("exists-nul", kz.exists, f"{b}/a\0b")
    r.call("get-missing", kz.get, f"{b}/missing")
    r.call("stat-base", kz.exists, b)
    r.call("children", kz.get_children, b)
    t = kz.transaction()
    t.create(f"{b}/m1", b"x")
    t.set_data(f"{b}/m1", b"y")
    t.check(f"{b}/m1", 1)
    t.delete(f"{b}/null")
    r.call("multi-ok", t.commit)
    t = kz.transaction()
    t.create(f"{b}/m2")
    t.check(f"{b}/m1", 99)
    t.create(f"{b}/m3")
    r.call("multi-fail", t.commit)
    r.call("stat-after-multi", kz.exists, b)
    r.call("acl-invalid", kz.create, f"{b}/acl", acl=[ACL(31, Id("world", "nobody"))])
    r.call("acl-unknown-scheme", kz.create, f"{b}/acl", acl=[ACL(31, Id("magic", "x"))])
    r.call("all-children", kz.get, b)
    r.call("root-stat-shape", lambda: kz.exists("/zookeeper"))
    kz.sync(b)
    deadline = time.monotonic() + 5
    while len(r.events) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    return r.out, r.events


@contextlib.contextmanager
def started_kazoo(hosts: str, **settings) -> Iterator[KazooClient]:
    """A started kazoo client, stopped and closed afterwards (stopping twice is harmless)."""
    kz = KazooClient(hosts=hosts, timeout=10, **settings)
    kz.start(timeout=20)
    try:
        yield kz
    finally:
        kz.stop()
        kz.close()


def _run(hosts: str):
    with started_kazoo(hosts) as kz:
        return scenario(kz)


def test_same_observations_as_real_zookeeper(shared_coord, real_zookeeper) -> None:
    ours, our_events = _run(shared_coord.hosts)
    theirs, their_events = _run(real_zookeeper)
    assert len(theirs) > 25 and len(their_events) == 3  # the scenario really ran there
    for mine, real in zip(ours, theirs, strict=True):
        assert mine == real
    assert len(ours) == len(theirs)
    assert our_events == their_events


def close_scenario(hosts: str) -> tuple[list, list]:
    """Session close seen by another client: ephemerals go in one txn, watches fire."""
    with started_kazoo(hosts) as a, started_kazoo(hosts) as b:
        base = f"/close-{uuid.uuid4().hex[:8]}"
        b.create(base)
        r = Recorder(b, base)
        a.create(f"{base}/e1", ephemeral=True)
        a.create(f"{base}/e2", ephemeral=True, sequence=True)
        r.call("watch-e1", b.exists, f"{base}/e1", watch=r.watcher)
        r.call("watch-children", b.get_children, base, watch=r.watcher)
        a.stop()
        deadline = time.monotonic() + 5
        while len(r.events) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        r.call("after", b.exists, base)
        e1_czxid = r.out[0][2][0]
        # e1, e2, then the closeSession txn: the deletes share one zxid
        assert r.out[-1][2][-1] == e1_czxid + 2
        return r.out, sorted(r.events)


def test_session_close_matches_real_zookeeper(shared_coord, real_zookeeper) -> None:
    assert close_scenario(shared_coord.hosts) == close_scenario(real_zookeeper)


def acl_scenario(hosts: str) -> list:
    """Digest auth and ACL checks as another, unauthenticated client sees them."""
    with started_kazoo(hosts, auth_data=[("digest", "alice:secret")]) as owner, started_kazoo(hosts) as other:
        base = f"/acl-{uuid.uuid4().hex[:8]}"
        owner.create(base)
        r = Recorder(other, base)
        creator_all = [ACL(31, Id("auth", ""))]
        read_only = [ACL(1, Id("world", "anyone")), ACL(31, Id("auth", ""))]
        r.call("owner-create", owner.create, f"{base}/private", b"p", acl=creator_all)
        r.call("owner-create-ro", owner.create, f"{base}/ro", b"r", acl=read_only)
        r.call("no-auth-acl", other.create, f"{base}/x", acl=creator_all)
        r.call("get-private", other.get, f"{base}/private")
        r.call("exists-private", other.exists, f"{base}/private")
        r.call("children-private", other.get_children, f"{base}/private")
        r.call(
            "getacl-private", lambda: [(a.perms, a.id.scheme, a.id.id) for a in other.get_acls(f"{base}/private")[0]]
        )
        r.call("getacl-owner", lambda: [(a.perms, a.id.scheme, a.id.id) for a in owner.get_acls(f"{base}/private")[0]])
        r.call("get-ro", other.get, f"{base}/ro")
        r.call("set-ro", other.set, f"{base}/ro", b"no")
        r.call("child-of-ro", other.create, f"{base}/ro/child")
        r.call("owner-child-of-ro", owner.create, f"{base}/ro/child")
        r.call("delete-child-of-ro", other.delete, f"{base}/ro/child")
        r.call("setacl-ro", other.set_acls, f"{base}/ro", [ACL(31, Id("world", "anyone"))])
        r.call("owner-setacl-ro", owner.set_acls, f"{base}/ro", [ACL(31, Id("world", "anyone"))])
        r.call("set-ro-after", other.set, f"{base}/ro", b"yes")
        return r.out


def test_acls_match_real_zookeeper(shared_coord, real_zookeeper) -> None:
    ours, theirs = acl_scenario(shared_coord.hosts), acl_scenario(real_zookeeper)
    assert ("get-private", "error", "NoAuthError") in theirs  # ZooKeeper does enforce
    for mine, real in zip(ours, theirs, strict=True):
        assert mine == real
    assert len(ours) == len(theirs)
