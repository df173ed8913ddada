"""kazoo, a client nobody on this project wrote, against our server: CRUD, errors,
ephemerals, multi, watches and kazoo's own recipes, unchanged."""

from __future__ import annotations

import threading
import uuid

import pytest
from kazoo import exceptions as ke
from kazoo.client import KazooClient
from kazoo.exceptions import LockTimeout
from kazoo.protocol.states import EventType
from kazoo.recipe.barrier import Barrier
from kazoo.recipe.counter import Counter
from kazoo.recipe.election import Election
from kazoo.recipe.lock import Lock
from kazoo.recipe.watchers import ChildrenWatch, DataWatch
from kazoo.security import ACL, Id, make_digest_acl

from tests.support.waiting import wait_until


def _base(kz: KazooClient) -> str:
    path = f"/t-{uuid.uuid4().hex[:8]}"
    kz.create(path)
    return path


def test_crud_and_stats(kz: KazooClient) -> None:
    base = _base(kz)
    path = kz.create(f"{base}/a", b"hello")
    data, stat = kz.get(path)
    assert data == b"hello" and stat.version == 0 and stat.dataLength == 5
    assert stat.czxid == stat.mzxid == stat.pzxid
    stat2 = kz.set(path, b"x", version=0)
    assert stat2.version == 1 and stat2.mzxid > stat.mzxid and stat2.czxid == stat.czxid
    parent = kz.exists(base)
    assert parent.numChildren == 1 and parent.cversion == 1 and parent.pzxid == stat.czxid
    assert kz.get_children(base) == ["a"]
    kz.delete(path, version=1)
    assert kz.exists(path) is None
    parent = kz.exists(base)
    assert parent.cversion == 2 and parent.numChildren == 0
    assert "zookeeper" in kz.get_children("/")
    assert kz.get("/zookeeper/config")[0] == b""


def test_error_codes(kz: KazooClient) -> None:
    base = _base(kz)
    kz.create(f"{base}/a")
    kz.create(f"{base}/a/b")
    with pytest.raises(ke.NoNodeError):
        kz.get(f"{base}/missing")
    with pytest.raises(ke.NoNodeError):
        kz.create(f"{base}/missing/child")
    with pytest.raises(ke.NodeExistsError):
        kz.create(f"{base}/a")
    with pytest.raises(ke.BadVersionError):
        kz.set(f"{base}/a", b"", version=7)
    with pytest.raises(ke.NotEmptyError):
        kz.delete(f"{base}/a")
    with pytest.raises(ke.BadArgumentsError):
        kz.delete("/zookeeper")
    with pytest.raises(ke.InvalidACLError):
        kz.create(f"{base}/c", acl=[ACL(31, Id("world", "nobody"))])
    kz.create(f"{base}/e", ephemeral=True)
    with pytest.raises(ke.NoChildrenForEphemeralsError):
        kz.create(f"{base}/e/x")


def test_sequential_and_ephemeral(shared_coord, kz: KazooClient) -> None:
    base = _base(kz)
    kz.create(f"{base}/plain")
    first = kz.create(f"{base}/job-", sequence=True)
    second = kz.create(f"{base}/job-", ephemeral=True, sequence=True)
    assert first == f"{base}/job-0000000001" and second == f"{base}/job-0000000002"
    other = KazooClient(hosts=shared_coord.hosts, timeout=5)
    other.start(timeout=10)
    other.create(f"{base}/mine", ephemeral=True)
    assert kz.exists(f"{base}/mine").ephemeralOwner == other.client_id[0]
    other.stop()
    other.close()
    assert kz.exists(f"{base}/mine") is None


def test_ephemeral_deleted_on_expiry_and_watch_fires(shared_coord, kz: KazooClient) -> None:
    base = _base(kz)
    other = KazooClient(hosts=shared_coord.hosts, timeout=0.5)
    other.start(timeout=10)
    other.create(f"{base}/eph", ephemeral=True)
    fired = threading.Event()
    kz.exists(f"{base}/eph", watch=lambda event: fired.set())
    # Silence the client without closing the session: drop its socket and keep it away.
    other._connection._socket.close()
    other.stop()  # closeSession cannot reach the server any more
    assert fired.wait(10)
    assert kz.exists(f"{base}/eph") is None


def test_multi(kz: KazooClient) -> None:
    base = _base(kz)
    t = kz.transaction()
    t.create(f"{base}/m", b"1")
    t.set_data(f"{base}/m", b"2")
    t.check(f"{base}/m", 1)
    results = t.commit()
    assert results[0] == f"{base}/m" and results[1].version == 1 and results[2] is True
    assert kz.get(f"{base}/m")[1].mzxid == kz.get(f"{base}/m")[1].czxid
    t = kz.transaction()
    t.create(f"{base}/n")
    t.delete(f"{base}/missing")
    t.set_data(f"{base}/m", b"")
    results = t.commit()
    assert isinstance(results[0], ke.RolledBackError)
    assert isinstance(results[1], ke.NoNodeError)
    assert isinstance(results[2], ke.RuntimeInconsistency)
    assert kz.exists(f"{base}/n") is None


def test_watches_fire_once_in_order(kz: KazooClient) -> None:
    base = _base(kz)
    events: list = []
    kz.create(f"{base}/w", b"0")
    kz.get(f"{base}/w", watch=events.append)
    kz.get_children(base, watch=events.append)
    kz.exists(f"{base}/new", watch=events.append)
    kz.set(f"{base}/w", b"1")
    kz.set(f"{base}/w", b"2")  # one-shot: no second event
    kz.create(f"{base}/new")
    # The watch-before-data guarantee: once the read sees the change, the events are in.
    kz.get_children(base)
    wait_until("three watch events", lambda: len(events) == 3)
    assert [(e.type, e.path) for e in events] == [
        (EventType.CHANGED, f"{base}/w"),
        (EventType.CREATED, f"{base}/new"),
        (EventType.CHILD, base),
    ]


def test_kazoo_watch_recipes(kz: KazooClient) -> None:
    base = _base(kz)
    seen_children: list = []
    seen_data: list = []
    ChildrenWatch(kz, base, lambda children: seen_children.append(sorted(children)))
    DataWatch(kz, base, lambda data, stat: seen_data.append(data))
    kz.create(f"{base}/x")
    kz.set(base, b"v1")
    wait_until("the children and data watches firing", lambda: ["x"] in seen_children and b"v1" in seen_data)


def test_lock_and_election_and_barrier_and_counter(shared_coord, kz: KazooClient) -> None:
    base = _base(kz)
    counter = Counter(kz, f"{base}/counter")
    counter += 5
    counter -= 2
    assert counter.value == 3
    other = KazooClient(hosts=shared_coord.hosts, timeout=5)
    other.start(timeout=10)
    try:
        lock_a, lock_b = Lock(kz, f"{base}/lock", "a"), Lock(other, f"{base}/lock", "b")
        assert lock_a.acquire(timeout=5)
        with pytest.raises(LockTimeout):
            lock_b.acquire(timeout=0.3)
        assert lock_b.contenders() == ["a"]
        lock_a.release()
        assert lock_b.acquire(timeout=5)
        lock_b.release()

        barrier = Barrier(kz, f"{base}/barrier")
        barrier.create()
        assert not barrier.wait(timeout=0.2)
        barrier.remove()
        assert barrier.wait(timeout=5)

        leaders: list[str] = []
        won = threading.Event()
        election = Election(other, f"{base}/election", "other")
        t = threading.Thread(target=election.run, args=(lambda: (leaders.append("other"), won.set()),), daemon=True)
        t.start()
        assert won.wait(10)
        t.join(10)
        assert leaders == ["other"]
    finally:
        other.stop()
        other.close()


def test_acls_and_digest_auth(shared_coord) -> None:
    client = KazooClient(hosts=shared_coord.hosts, timeout=5, auth_data=[("digest", "alice:secret")])
    client.start(timeout=10)
    try:
        acl = make_digest_acl("alice", "secret", all=True)
        path = client.create(f"/acl-{uuid.uuid4().hex[:6]}", acl=[acl])
        acls, _ = client.get_acls(path)
        assert acls[0].id.scheme == "digest" and acls[0].id.id == acl.id.id
        client.set_acls(path, [acl], version=0)
        assert client.exists(path).aversion == 1
        with pytest.raises(ke.BadVersionError):
            client.set_acls(path, [acl], version=0)
    finally:
        client.stop()
        client.close()
