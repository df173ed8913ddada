"""CoordClient against real servers (ZooKeeper and ours): CRUD with stats, every error
path, sequential names, multi, and watch event sequences."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from coord.client import CoordClient, WatchedEvent
from coord.protocol.errors import (
    BadVersionError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    NoWatcherError,
    RolledBackError,
    RuntimeInconsistencyError,
)
from coord.protocol.opcodes import EventType as E
from tests.support.waiting import wait_until_async


@pytest.fixture
async def client(zk_server) -> AsyncIterator[CoordClient]:
    async with CoordClient(zk_server.hosts, session_timeout=10) as c:
        yield c


def events(log: list[WatchedEvent]) -> list[tuple[E, str]]:
    return [(e.type, e.path) for e in log]


async def test_crud_with_stats(client: CoordClient) -> None:
    assert await client.create("/crud", b"v1") == "/crud"
    data, stat = await client.get("/crud")
    assert data == b"v1"
    assert (stat.version, stat.cversion, stat.dataLength, stat.numChildren, stat.ephemeralOwner) == (0, 0, 2, 0, 0)
    assert stat.czxid == stat.mzxid == stat.pzxid > 0
    stat2 = await client.set("/crud", b"value2", version=0)
    assert (stat2.version, stat2.dataLength, stat2.czxid) == (1, 6, stat.czxid) and stat2.mzxid > stat.mzxid
    await client.create("/crud/kid")
    children, parent = await client.get_children("/crud", include_data=True)
    assert children == ["kid"] and (parent.numChildren, parent.cversion) == (1, 1)
    assert parent.pzxid > stat2.mzxid
    assert (await client.exists("/crud/kid")).dataLength == 0
    await client.delete("/crud/kid", version=0)
    assert await client.exists("/crud/kid") is None
    assert (await client.exists("/crud")).cversion == 2
    await client.delete("/crud", recursive=True)
    assert await client.exists("/crud") is None


async def test_error_codes(client: CoordClient) -> None:
    with pytest.raises(NoNodeError, match="NONODE -101 \\(/err/missing\\)"):
        await client.get("/err/missing")
    with pytest.raises(NoNodeError):
        await client.create("/err/a/b")
    await client.create("/err")
    with pytest.raises(NodeExistsError):
        await client.create("/err")
    with pytest.raises(BadVersionError):
        await client.set("/err", b"x", version=3)
    with pytest.raises(BadVersionError):
        await client.delete("/err", version=3)
    await client.create("/err/kid")
    with pytest.raises(NotEmptyError):
        await client.delete("/err")
    await client.create("/err/eph", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        await client.create("/err/eph/kid")
    assert (await client.exists("/err/eph")).ephemeralOwner == client.session_id
    with pytest.raises(NoNodeError):
        await client.delete("/err/missing")
    with pytest.raises(NoWatcherError):
        await client.remove_watches("/err")
    assert await client.create("/err/deep/er/path", b"d", makepath=True) == "/err/deep/er/path"
    await client.delete("/err", recursive=True)


async def test_sequential_names_count_every_create(client: CoordClient) -> None:
    await client.create("/seq")
    names = [await client.create("/seq/job-", sequence=True) for _ in range(2)]
    await client.create("/seq/plain")
    names.append(await client.create("/seq/job-", sequence=True, ephemeral=True))
    await client.delete(names[0])
    names.append(await client.create("/seq/", sequence=True))
    assert names == ["/seq/job-0000000000", "/seq/job-0000000001", "/seq/job-0000000003", "/seq/0000000004"]
    assert sorted(await client.get_children("/seq")) == ["0000000004", "job-0000000001", "job-0000000003", "plain"]
    await client.delete("/seq", recursive=True)


async def test_multi_is_all_or_nothing(client: CoordClient) -> None:
    await client.create("/multi", b"0")
    ok = await (
        client.transaction()
        .create("/multi/a", b"a")
        .set_data("/multi", b"1", version=0)
        .check("/multi", 1)
        .delete("/multi/a")
        .commit()
    )
    assert ok[0] == "/multi/a" and ok[1].version == 1 and ok[2:] == [True, True]
    failed = await client.transaction().create("/multi/b").check("/multi", 7).set_data("/multi", b"2").commit()
    assert [type(r) for r in failed] == [RolledBackError, BadVersionError, RuntimeInconsistencyError]
    assert failed[1].path == "/multi"
    assert await client.exists("/multi/b") is None
    assert (await client.get("/multi"))[0] == b"1"
    failed = await client.transaction().create("/multi/c").create("/multi/c").commit()
    assert [type(r) for r in failed] == [RolledBackError, NodeExistsError]
    await client.delete("/multi", recursive=True)


async def test_one_shot_watches_fire_once_with_exact_events(client: CoordClient) -> None:
    log: list[WatchedEvent] = []
    assert await client.exists("/w", watch=log.append) is None
    await client.create("/w", b"0")
    await wait_until_async("one watch event", lambda: len(log) == 1)
    await client.get("/w", watch=log.append)
    await client.get_children("/w", watch=log.append)
    await client.set("/w", b"1")
    await client.set("/w", b"2")  # no watch left: no event
    await client.create("/w/kid")
    await client.get("/w", watch=log.append)
    await client.exists("/w", watch=log.append)  # same callback, same path: one event
    await client.get_children("/w", watch=log.append)
    await client.delete("/w/kid")
    await client.delete("/w")
    await client.sync("/")
    await wait_until_async("five watch events", lambda: len(log) >= 5)
    assert events(log) == [
        (E.NODE_CREATED, "/w"),
        (E.NODE_DATA_CHANGED, "/w"),
        (E.NODE_CHILDREN_CHANGED, "/w"),
        (E.NODE_CHILDREN_CHANGED, "/w"),
        (E.NODE_DELETED, "/w"),
    ]
    assert all(e.state == 3 for e in log)


async def test_persistent_and_recursive_watches(client: CoordClient, zk_server) -> None:
    # One connection has one watch mode per path (a later addWatch replaces the mode on
    # ZooKeeper 3.8), so the recursive watch lives on a second session.
    async with CoordClient(zk_server.hosts) as other:
        await client.create("/pw")
        flat: list[WatchedEvent] = []
        deep: list[WatchedEvent] = []
        await client.add_watch("/pw", flat.append)
        await other.add_watch("/pw", deep.append, recursive=True)
        await client.create("/pw/a")
        await client.set("/pw/a", b"x")
        await client.set("/pw", b"y")
        await client.delete("/pw/a")
        await client.sync("/")
        await other.sync("/")
        await wait_until_async("the deep and flat watches firing", lambda: len(deep) >= 4 and len(flat) >= 3)
        assert events(flat) == [
            (E.NODE_CHILDREN_CHANGED, "/pw"),
            (E.NODE_DATA_CHANGED, "/pw"),
            (E.NODE_CHILDREN_CHANGED, "/pw"),
        ]
        assert events(deep) == [
            (E.NODE_CREATED, "/pw/a"),
            (E.NODE_DATA_CHANGED, "/pw/a"),
            (E.NODE_DATA_CHANGED, "/pw"),
            (E.NODE_DELETED, "/pw/a"),
        ]
        await client.remove_watches("/pw")
        await other.remove_watches("/pw")
        await client.set("/pw", b"z")
        # Events reach a session in zxid order: once a watch on a later change has fired on
        # both sessions, any event for the set above would have arrived before it.
        marks: list[WatchedEvent] = []
        await client.exists("/pw-mark", watch=marks.append)
        await other.exists("/pw-mark", watch=marks.append)
        await client.create("/pw-mark")
        await wait_until_async("the later change seen by both sessions", lambda: len(marks) == 2)
        assert len(flat) == 3 and len(deep) == 4
        await client.delete("/pw-mark")
        await client.delete("/pw")


async def test_watch_event_arrives_before_the_data_that_caused_it(zk_server) -> None:
    async with CoordClient(zk_server.hosts) as reader, CoordClient(zk_server.hosts) as writer:
        await writer.create("/order", b"old")
        seen: list[str] = []
        await reader.get("/order", watch=lambda e: seen.append("event"))
        await writer.set("/order", b"new")
        for _ in range(500):
            data, _ = await reader.get("/order")
            if data == b"new":
                break
        assert data == b"new" and seen == ["event"]
        await writer.delete("/order")


async def test_pipelined_requests_complete_in_order(client: CoordClient) -> None:
    await client.create("/pipe")
    paths = await asyncio.gather(*(client.create("/pipe/n-", sequence=True) for _ in range(300)))
    assert paths == [f"/pipe/n-{i:010d}" for i in range(300)]
    assert await client.get_all_children_number("/pipe") == 300
    await client.delete("/pipe", recursive=True)


async def test_ephemerals_listing_and_null_data(client: CoordClient) -> None:
    await client.create("/eph-list")
    await client.create("/eph-list/e1", ephemeral=True)
    assert await client.get_ephemerals("/eph-list") == ["/eph-list/e1"]
    await client.create("/eph-list/nodata", None)
    assert (await client.get("/eph-list/nodata"))[0] is None
    await client.delete("/eph-list", recursive=True)
