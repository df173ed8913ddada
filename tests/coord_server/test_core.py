"""The sans-I/O core: prep + DataTree.apply + watches + sessions, no sockets.

A hypothesis test drives random write sequences through prep and apply and compares the
tree with a deliberately naive model; the rest pin single ZooKeeper rules.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from coord.protocol.errors import ErrorCode
from coord.server import prep as P
from coord.server import txn as T
from coord.server.datatree import (
    NODE_CHILDREN_CHANGED,
    NODE_CREATED,
    NODE_DATA_CHANGED,
    NODE_DELETED,
    RESERVED,
    DataTree,
)
from coord.server.prep import PrepView
from coord.server.sessions import SessionTracker, negotiate_timeout
from coord.server.txn import Txn
from coord.server.watches import PERSISTENT_RECURSIVE, TYPE_ANY, WatchManager

ACL = [[31, "world", "anyone"]]


class Core:
    """prep -> (pretend log) -> apply, as the server pipeline runs it."""

    def __init__(self) -> None:
        self.tree = DataTree()
        self.view = PrepView(self.tree)
        self.now = 1_000

    def write(self, op: tuple, session: int = 0x100, apply: bool = True):
        self.now += 1
        prepared = self.view.prepare(session, op, self.now)
        # The txn must survive its msgpack form unchanged, as it would through the log.
        assert Txn.unpack(prepared.txn.pack()) == prepared.txn
        if apply:
            self.apply(prepared.txn)
        return prepared

    def apply(self, txn: Txn):
        events, results = self.tree.apply(Txn.unpack(txn.pack()))
        self.view.applied(txn.zxid)
        return events, results

    def create(
        self,
        path: str,
        data: bytes | None = b"",
        flags: int = 0,
        session: int = 0x100,
        op: int = P.OP_CREATE,
        ttl: int = -1,
    ):
        return self.write((op, path, data, ACL, flags, ttl), session)


def test_fresh_tree_matches_zookeeper() -> None:
    tree = DataTree()
    assert sorted(tree.nodes["/"].children) == ["zookeeper"]
    assert tree.nodes["/"].stat().cversion == -1
    assert tree.node_count() == 5


def test_create_stats_and_parent_updates() -> None:
    core = Core()
    core.create("/a", b"xy")
    p = core.create("/a/b", None)
    assert p.err == P.OK and p.txn.zxid == 2
    a = core.tree.get("/a").stat()
    assert (a.czxid, a.mzxid, a.pzxid, a.cversion, a.numChildren, a.dataLength) == (1, 1, 2, 1, 1, 2)
    b = core.tree.get("/a/b").stat()
    assert (b.czxid, b.mzxid, b.pzxid, b.version, b.dataLength) == (2, 2, 2, 0, 0)
    core.write((P.OP_DELETE, "/a/b", -1))
    a = core.tree.get("/a").stat()
    assert (a.cversion, a.numChildren, a.pzxid) == (2, 0, 3)


def test_sequential_suffix_counts_creations_not_deletions() -> None:
    core = Core()
    core.create("/q")
    core.create("/q/x")
    core.write((P.OP_DELETE, "/q/x", -1))
    first = core.create("/q/job-", flags=2)
    assert first.txn.body[0] == "/q/job-0000000001"
    assert core.create("/q/", flags=2).txn.body[0] == "/q/0000000002"


def test_create_errors_in_zookeeper_order() -> None:
    core = Core()
    assert core.create("/a/b").err == P.NONODE
    assert core.create("/a", flags=9).err == P.BADARGUMENTS
    assert core.create("noslash").err == P.BADARGUMENTS
    assert core.create("/a/").err == P.NONODE  # parent checked before full validation
    assert core.create("/..").err == P.BADARGUMENTS
    core.create("/e", flags=1)
    assert core.create("/e/c").err == P.NOCHILDRENFOREPHEMERALS
    assert core.create("/e").err == P.NODEEXISTS
    assert core.write((P.OP_CREATE, "/z", b"", [], 0, -1)).err == ErrorCode.INVALIDACL
    assert core.create("/t", flags=5, op=P.OP_CREATE_TTL, ttl=0).err == P.BADARGUMENTS
    assert core.create("/t", flags=0, op=P.OP_CREATE_TTL, ttl=10).err == P.BADARGUMENTS
    # Refused writes still consume a zxid, like ZooKeeper's ErrorTxn.
    assert core.tree.last_zxid == core.view.next_zxid - 1


def test_delete_set_check_versions() -> None:
    core = Core()
    core.create("/a")
    core.create("/a/b")
    assert core.write((P.OP_DELETE, "/a", -1)).err == P.NOTEMPTY
    assert core.write((P.OP_DELETE, "/a/b", 3)).err == P.BADVERSION
    assert core.write((P.OP_DELETE, "/zookeeper", -1)).err == P.BADARGUMENTS
    assert core.write((P.OP_SET_DATA, "/a", b"1", 0)).err == P.OK
    assert core.write((P.OP_SET_DATA, "/a", b"2", 0)).err == P.BADVERSION
    assert core.write((P.OP_SET_DATA, "/nope", b"2", -1)).err == P.NONODE
    assert core.write((P.OP_SET_DATA, "bad", b"2", -1)).err == P.BADARGUMENTS
    assert core.tree.get("/a").stat().version == 1


def test_multi_is_all_or_nothing_with_zookeeper_results() -> None:
    core = Core()
    ok = core.write(
        (P.OP_MULTI, [(P.OP_CREATE, "/m", b"", ACL, 0, -1), (P.OP_SET_DATA, "/m", b"v", 0), (P.OP_CHECK, "/m", 1)])
    )
    assert ok.txn.kind == T.MULTI and ok.multi_errors is None
    assert core.tree.get("/m").stat().mzxid == ok.txn.zxid
    bad = core.write(
        (
            P.OP_MULTI,
            [(P.OP_CREATE, "/n", b"", ACL, 0, -1), (P.OP_DELETE, "/missing", -1), (P.OP_SET_DATA, "/m", b"", -1)],
        )
    )
    assert bad.multi_errors == [P.OK, P.NONODE, P.RUNTIMEINCONSISTENCY]
    assert core.tree.get("/n") is None
    # The failed multi's changes must not leak into later preps either.
    assert core.create("/n").err == P.OK


def test_prep_sees_unapplied_changes() -> None:
    core = Core()
    first = core.write((P.OP_CREATE, "/p", b"", ACL, 0, -1), apply=False)
    assert core.write((P.OP_CREATE, "/p", b"", ACL, 0, -1), apply=False).err == P.NODEEXISTS
    seq = core.write((P.OP_CREATE, "/p/s-", b"", ACL, 2, -1), apply=False)
    assert seq.err == P.OK and seq.txn.body[0] == "/p/s-0000000000"
    core.apply(first.txn)
    assert core.write((P.OP_CREATE, "/p/s-", b"", ACL, 2, -1), apply=False).txn.body[0] == "/p/s-0000000001"


def test_close_session_deletes_ephemerals_and_fires_watches() -> None:
    core = Core()
    core.create("/app")
    core.create("/app/e1", flags=1, session=7)
    core.create("/app/e2", flags=3, session=7)
    core.create("/app/other", flags=1, session=8)
    watches = WatchManager()
    watches.add("w", "/app", True)
    watches.add("w", "/app/e1", False)
    events, _ = core.apply(core.view.close_session(7, core.now))
    assert sorted(core.tree.get("/app").children) == ["other"]
    assert 7 not in core.tree.ephemerals
    notes = watches.trigger(events)
    assert ("w", NODE_DELETED, "/app/e1") in notes
    assert notes.count(("w", NODE_CHILDREN_CHANGED, "/app")) == 1  # one-shot


def test_watch_trigger_rules() -> None:
    core = Core()
    w = WatchManager()
    w.add("data", "/a", False)
    w.add("both", "/a", False)
    w.add("both", "/a", True)
    w.add_persistent("rec", "/", recursive=True)
    w.add_persistent("pers", "/a", recursive=False)
    core.create("/a")
    events, _ = core.apply(core.view.prepare(0, (P.OP_DELETE, "/a", -1), 5).txn)
    notes = w.trigger(events)
    assert notes.count(("both", NODE_DELETED, "/a")) == 1
    assert ("data", NODE_DELETED, "/a") in notes
    assert ("rec", NODE_DELETED, "/a") in notes
    assert ("rec", NODE_CHILDREN_CHANGED, "/") not in notes
    assert ("pers", NODE_DELETED, "/a") in notes
    # one-shot ones are gone, persistent ones stay
    assert not w.has("data", "/a", TYPE_ANY) and w.has("pers", "/a", TYPE_ANY)
    events, _ = core.apply(core.view.prepare(0, (P.OP_CREATE, "/a", b"", ACL, 0, -1), 6).txn)
    notes = w.trigger(events)
    assert ("pers", NODE_CREATED, "/a") in notes and ("rec", NODE_CREATED, "/a") in notes
    assert w.data["/"]["rec"] == PERSISTENT_RECURSIVE


def test_set_watches_catch_up() -> None:
    core = Core()
    core.create("/a")
    core.create("/b")
    rel = core.tree.last_zxid
    core.write((P.OP_SET_DATA, "/a", b"new", -1))
    w = WatchManager()
    notes = w.set_watches("c", core.tree, rel, data=["/a", "/b", "/gone"], exist=["/b", "/x"], child=["/a"])
    assert ("c", NODE_DATA_CHANGED, "/a") in notes
    assert ("c", NODE_DELETED, "/gone") in notes
    assert ("c", NODE_CREATED, "/b") in notes
    assert w.has("c", "/b", TYPE_ANY) and w.has("c", "/x", TYPE_ANY) and w.has("c", "/a", TYPE_ANY)


def test_session_expiry_by_tick() -> None:
    tracker = SessionTracker(1, 2000, now=0, secret=b"k")
    sid = tracker.new_session_id()
    assert sid >> 56 == 1 and tracker.password_for(sid) != tracker.password_for(sid + 1)
    tracker.add(sid, 4000, now=0)
    assert tracker.expire(4000) == []
    assert tracker.touch(sid, 3000)
    assert tracker.expire(7000) == []
    assert tracker.expire(8000) == [sid]
    assert not tracker.touch(sid, 8001)
    assert negotiate_timeout(100, 4000, 40000) == 4000
    assert negotiate_timeout(10**6, 4000, 40000) == 40000


def test_adding_a_known_session_again_restarts_its_clock_and_nothing_else() -> None:
    # An ensemble member adds every session it learns of, and adds them all again with
    # a fresh timeout when it becomes leader. The first add's expiry bucket used to
    # survive the second: the new leader expired live sessions at their old time
    # (found by tests/coord_ensemble/test_linearizable.py).
    tracker = SessionTracker(1, 2000, now=0, secret=b"k")
    sid = tracker.new_session_id()
    tracker.add(sid, 4000, now=0)
    tracker.add(sid, 4000, now=3000)
    assert tracker.expire(6000) == []
    assert tracker.expire(8000) == [sid]


# -- property test: random op sequences against a naive model ------------------------------

NAMES = st.sampled_from(["a", "b", "c"])
PATHS = st.lists(NAMES, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
OPS = st.one_of(
    st.tuples(st.just("create"), PATHS, st.sampled_from([0, 1, 2, 3])),
    st.tuples(st.just("delete"), PATHS, st.sampled_from([-1, 0, 1])),
    st.tuples(st.just("set"), PATHS, st.sampled_from([-1, 0, 1])),
    st.tuples(st.just("close"), st.just(""), st.just(0)),
)


def _model_step(model: dict, op: tuple, session: int) -> str | None:
    """Apply `op` to the model {path: [version, owner]}; return the created path if any."""
    kind, path, arg = op
    parent = path.rpartition("/")[0] or "/"
    if kind == "create":
        if parent not in model or model[parent][1]:
            return None
        if arg & 2:
            path = f"{path}{model[parent][2]:010d}"
        if path in model:
            return None
        model[parent][2] += 1
        model[path] = [0, session if arg & 1 else 0, 0]
        return path
    if kind == "delete":
        if path in model and arg in (-1, model[path][0]) and not any(p.startswith(path + "/") for p in model):
            del model[path]
    elif kind == "set":
        if path in model and arg in (-1, model[path][0]):
            model[path][0] += 1
    else:
        for p in [p for p, v in model.items() if v[1] == session]:
            del model[p]
    return None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(OPS, st.booleans()), max_size=40))
def test_random_ops_match_model(steps: list) -> None:
    core = Core()
    model = {"/": [0, 0, 0], "/zookeeper": [0, 0, 0], "/zookeeper/quota": [0, 0, 0], "/zookeeper/config": [0, 0, 0]}
    pending: list[Txn] = []
    for (kind, path, arg), flush in steps:
        session = 0x42
        if kind == "create":
            p = core.view.prepare(session, (P.OP_CREATE, path, b"d", ACL, arg, -1), core.now)
        elif kind == "delete":
            p = core.view.prepare(session, (P.OP_DELETE, path, arg), core.now)
        elif kind == "set":
            p = core.view.prepare(session, (P.OP_SET_DATA, path, b"s", arg), core.now)
        else:
            p = None
            pending.append(core.view.close_session(session, core.now))
        if p is not None:
            pending.append(p.txn)
        _model_step(model, (kind, path, arg), session)
        if flush:
            for txn in pending:
                core.apply(txn)
            pending.clear()
    for txn in pending:
        core.apply(txn)
    assert set(core.tree.nodes) == set(model)
    for path, node in core.tree.nodes.items():
        stat = node.stat()
        assert stat.version == model[path][0]
        assert stat.ephemeralOwner == model[path][1]
        assert stat.numChildren == len(node.children)
        assert path in RESERVED or (stat.cversion >= 0 and stat.pzxid >= stat.czxid)
        assert all(f"{path.rstrip('/')}/{c}" in core.tree.nodes for c in node.children)
    assert not core.view.changes
    restored = DataTree.restore(
        list(core.tree.iter_nodes()), [[s, t, p] for s, (t, p) in core.tree.sessions.items()], core.tree.last_zxid
    )
    assert list(restored.iter_nodes()) == list(core.tree.iter_nodes())
    assert restored.ephemerals == core.tree.ephemerals


def test_data_size_limit() -> None:
    core = Core()
    core.view.max_data = 10
    assert core.create("/big", b"x" * 11).err == P.BADARGUMENTS
    assert core.create("/ok", b"x" * 10).err == P.OK
    assert core.write((P.OP_SET_DATA, "/ok", b"y" * 11, -1)).err == P.BADARGUMENTS


def test_acl_rules() -> None:
    from coord.server import acl

    ids = [("ip", "10.1.2.3"), ("digest", "bob:hash")]
    assert acl.allowed([[1, "ip", "10.1.0.0/16"]], 1, ids)
    assert not acl.allowed([[1, "ip", "10.2.0.0/16"]], 1, ids)
    assert not acl.allowed([[2, "digest", "bob:hash"]], 1, ids)  # wrong permission bit
    assert acl.allowed([[3, "digest", "bob:hash"]], 1, ids)
    assert acl.allowed([], 16, [])  # an empty ACL allows everything
    assert acl.fixup_acl([(31, "auth", "")], ids) == [[31, "digest", "bob:hash"]]
    assert acl.shown_to([[1, "digest", "bob:hash"]], ids) == [[1, "digest", "bob:x"]]
    core = Core()
    core.create("/locked")
    core.write((P.OP_SET_ACL, "/locked", [(1, "world", "anyone")], -1))
    assert core.write((P.OP_SET_DATA, "/locked", b"x", -1)).err == ErrorCode.NOAUTH
    assert core.create("/locked/child").err == ErrorCode.NOAUTH
