"""A chroot in the connect string ("host:port/app"), against ZooKeeper and ours: the session
sees /app as its root; created paths, sync, ephemerals, multi results, errors and watch events
(one-shot, persistent recursive, and re-registered after a reconnect) carry the client's paths,
while a client without the chroot sees everything under /app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from coord.client import CoordClient, WatchedEvent
from coord.client.chroot import split_connect_string
from coord.protocol.errors import NoNodeError
from coord.protocol.opcodes import EventType as E
from tests.support.waiting import wait_until_async


@pytest.fixture
async def plain(zk_server) -> AsyncIterator[CoordClient]:
    async with CoordClient(zk_server.hosts, session_timeout=10) as c:
        yield c


def test_the_connect_string_is_split_as_zookeeper_splits_it() -> None:
    assert split_connect_string("a:1,b:2/kafka/one") == ("a:1,b:2", "/kafka/one")
    assert split_connect_string("a:1/") == ("a:1", "")
    assert split_connect_string("a:1") == ("a:1", "")
    for bad in ("a:1/kafka/", "a:1//x", "a:1/x/../y"):
        with pytest.raises(ValueError, match="invalid chroot"):
            split_connect_string(bad)


async def test_paths_go_out_under_the_chroot_and_come_back_without_it(zk_server, plain: CoordClient) -> None:
    await plain.create("/app1", makepath=True)
    async with CoordClient(zk_server.hosts + "/app1", session_timeout=10) as c:
        assert await c.create("/a", b"x") == "/a"
        assert await c.create("/deep/er", makepath=True) == "/deep/er"
        queued = await c.create("/q-", sequence=True)
        assert queued == "/q-0000000002"  # the parent's third child, numbered as the server numbers it
        assert (await plain.get("/app1/a"))[0] == b"x"
        assert sorted(await c.get_children("/")) == ["a", "deep", "q-0000000002"]
        assert await c.sync("/a") == "/a"
        results = await c.transaction().create("/m1").set_data("/a", b"y").delete(queued).commit()
        assert results[0] == "/m1" and results[2] is True
        assert await c.create("/eph", ephemeral=True) == "/eph"
        assert await c.get_ephemerals() == ["/eph"]
        with pytest.raises(NoNodeError) as missing:
            await c.get("/nothing")
        assert missing.value.path == "/nothing"
        assert await c.exists("/") is not None and await c.exists("/app1") is None
    assert sorted(await plain.get_children("/app1")) == ["a", "deep", "m1"]


async def test_watch_events_carry_the_clients_paths(zk_server, plain: CoordClient) -> None:
    await plain.create("/app2", makepath=True)
    exists: list[WatchedEvent] = []
    children: list[WatchedEvent] = []
    tree: list[WatchedEvent] = []
    # (Two sessions: on one connection ZooKeeper lets a recursive watch of a path replace a child watch of it.)
    async with (
        CoordClient(zk_server.hosts + "/app2", session_timeout=10) as c,
        CoordClient(zk_server.hosts + "/app2", session_timeout=10) as c2,
    ):
        await c.exists("/w", watch=exists.append)
        await c2.get_children("/", watch=children.append)
        await c.add_watch("/", tree.append, recursive=True)
        await plain.create("/app2/w", b"1")
        await plain.set("/app2/w", b"2")
        await wait_until_async("the watches under the chroot to fire", lambda: exists and children and len(tree) >= 2)
    assert [(e.type, e.path) for e in exists] == [(E.NODE_CREATED, "/w")]
    assert [(e.type, e.path) for e in children] == [(E.NODE_CHILDREN_CHANGED, "/")]
    assert [(e.type, e.path) for e in tree] == [(E.NODE_CREATED, "/w"), (E.NODE_DATA_CHANGED, "/w")]


async def test_watches_are_re_registered_under_the_chroot_after_a_reconnect(fresh_server) -> None:
    async with CoordClient(fresh_server.hosts, session_timeout=20) as plain:
        await plain.create("/app3/w", b"0", makepath=True)
    log: list[WatchedEvent] = []
    async with CoordClient(fresh_server.hosts + "/app3", session_timeout=20) as c:
        await c.get("/w", watch=log.append)
        fresh_server.stop()
        fresh_server.start()
        async with CoordClient(fresh_server.hosts, session_timeout=20) as plain:
            await wait_until_async("the client to reconnect", lambda: c.connected, timeout=20)
            await plain.set("/app3/w", b"1")
            await wait_until_async("the re-registered watch to fire", lambda: bool(log), timeout=10)
    assert [(e.type, e.path) for e in log] == [(E.NODE_DATA_CHANGED, "/w")]
