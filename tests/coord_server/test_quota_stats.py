"""Quota stats in the data tree: after any sequence of creates, deletes and setData (in
and out of multis), every /zookeeper/quota/<p>/zookeeper_stats node holds exactly the
count and bytes of <p>'s subtree, and a snapshot round trip keeps it so."""

from __future__ import annotations

import logging

from hypothesis import given, settings
from hypothesis import strategies as st

from coord.server import txn as T
from coord.server.datatree import OPEN_ACL, DataTree
from coord.server.snapshot import pack_tree, parse_snapshot
from coord.server.txn import Txn

PATHS = ["/q", "/q/a", "/q/a/x", "/q/b", "/r", "/r/c"]


class Applier:
    def __init__(self) -> None:
        self.tree, self.zxid = DataTree(), 0

    def op(self, kind: int, body: list) -> None:
        self.zxid += 1
        self.tree.apply(Txn(self.zxid, 1000 + self.zxid, 1, kind, body))

    def create(self, path: str, data: bytes = b"") -> None:
        self.op(T.CREATE, [path, data, OPEN_ACL, 0])

    def set_quota(self, path: str, limits: bytes) -> None:
        """What zkCli's setquota writes: parents, limits, then a zeroed stats node."""
        for p in ["/zookeeper/quota" + path[:i] for i in range(1, len(path) + 1) if i == len(path) or path[i] == "/"]:
            if self.tree.get(p) is None:
                self.create(p)
        self.create(f"/zookeeper/quota{path}/zookeeper_limits", limits)
        self.create(f"/zookeeper/quota{path}/zookeeper_stats", b"count=0,bytes=0")


def stats(tree: DataTree, path: str) -> bytes:
    return tree.get(f"/zookeeper/quota{path}/zookeeper_stats").data


def expected(tree: DataTree, path: str) -> bytes:
    count, size = tree.subtree_usage(path)
    return f"count={count},bytes={size}".encode()


def test_setquota_counts_the_existing_subtree_then_follows_every_change():
    a = Applier()
    a.create("/q", b"ab")
    a.create("/q/a")
    a.set_quota("/q", b"count=5,bytes=-1")
    assert stats(a.tree, "/q") == b"count=2,bytes=2"
    a.create("/q/b", b"12345")
    assert stats(a.tree, "/q") == b"count=3,bytes=7"
    a.op(T.SET_DATA, ["/q/b", b"1"])
    assert stats(a.tree, "/q") == b"count=3,bytes=3"
    a.op(T.DELETE, ["/q/b"])
    assert stats(a.tree, "/q") == b"count=2,bytes=2"
    a.create("/r", b"zzz")  # outside the quota: no change
    assert stats(a.tree, "/q") == b"count=2,bytes=2"


def test_a_quota_over_its_limit_is_logged_not_refused(caplog):
    a = Applier()
    a.create("/q")
    a.set_quota("/q", b"count=1,bytes=-1")
    with caplog.at_level(logging.WARNING, logger="coord.server.datatree"):
        a.create("/q/a")
    assert a.tree.get("/q/a") is not None
    assert "quota exceeded on /q: count=2 > count=1" in caplog.text


def test_removing_the_limits_node_stops_the_counting():
    a = Applier()
    a.create("/q")
    a.set_quota("/q", b"count=5,bytes=-1")
    a.op(T.DELETE, ["/zookeeper/quota/q/zookeeper_limits"])
    a.create("/q/a")
    assert stats(a.tree, "/q") == b"count=1,bytes=0"


ops = st.lists(
    st.tuples(st.sampled_from(["create", "delete", "set", "multi"]), st.sampled_from(PATHS), st.binary(max_size=6)),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(ops, st.sampled_from(["/q", "/q/a", "/r"]))
def test_stats_always_equal_a_full_recount(steps, quota_path):
    a = Applier()
    if quota_path == "/q/a":
        a.create("/q")
    a.create(quota_path)
    a.set_quota(quota_path, b"count=3,bytes=4")
    for action, path, data in steps:
        node, parent = a.tree.get(path), a.tree.get(path.rsplit("/", 1)[0] or "/")
        if action in ("create", "multi") and node is None and parent is not None:
            if action == "multi":
                a.op(T.MULTI, [[T.CREATE, [path, data, OPEN_ACL, 0]], [T.SET_DATA, [path, data * 2]]])
            else:
                a.create(path, data)
        elif action == "delete" and node is not None and not node.children:
            a.op(T.DELETE, [path])
        elif action == "set" and node is not None:
            a.op(T.SET_DATA, [path, data])
        assert stats(a.tree, quota_path) == expected(a.tree, quota_path)
    restored = parse_snapshot(pack_tree(a.tree), "mem")
    assert restored.quotas == {quota_path}
    assert stats(restored, quota_path) == expected(a.tree, quota_path)
