"""Sessions across trouble: connection loss (SUSPENDED, reattach, watches replayed with
SetWatches), expiry (LOST, ephemerals gone, new session on request), server restart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from coord.client import ConnState, CoordClient, WatchedEvent, retry
from coord.protocol.errors import ConnectionLossError, SessionExpiredError
from coord.protocol.opcodes import EventType as E
from tests.support.faultproxy import FaultProxy
from tests.support.waiting import wait_until_async


@pytest.fixture
def proxy(zk_server) -> Iterator[FaultProxy]:
    with FaultProxy(zk_server.port) as p:
        yield p


async def test_connection_loss_suspends_then_reattaches_with_watches(zk_server, proxy: FaultProxy) -> None:
    states: list[ConnState] = []
    seen: list[WatchedEvent] = []
    async with CoordClient(f"127.0.0.1:{proxy.listen_port}", session_timeout=8) as a, CoordClient(zk_server.hosts) as b:
        a.add_listener(states.append)
        sid = a.session_id
        await a.create("/loss-eph", ephemeral=True)
        await a.create("/loss", b"0")
        await a.get("/loss", watch=seen.append)
        await a.get_children("/loss", watch=seen.append)
        proxy.cut()
        await wait_until_async("A suspended", lambda: a.state == ConnState.SUSPENDED, 5)
        with pytest.raises(ConnectionLossError):
            await a.get("/loss")
        await b.set("/loss", b"1")  # missed while A is away
        proxy.heal()
        await wait_until_async("A connected again", lambda: a.state == ConnState.CONNECTED, 10)
        assert a.session_id == sid and states == [ConnState.SUSPENDED, ConnState.CONNECTED]
        await wait_until_async("the watch replayed by SetWatches", lambda: len(seen) == 1, 5)  # replayed by SetWatches
        assert [(e.type, e.path) for e in seen] == [(E.NODE_DATA_CHANGED, "/loss")]
        await b.create("/loss/kid")  # the child watch was re-registered
        await wait_until_async("the second watch event", lambda: len(seen) == 2, 5)
        assert seen[1].type == E.NODE_CHILDREN_CHANGED
        assert (await b.exists("/loss-eph")).ephemeralOwner == sid
        await b.delete("/loss", recursive=True)


async def test_session_expiry_deletes_ephemerals_and_reports_lost(zk_server, proxy: FaultProxy) -> None:
    states: list[ConnState] = []
    a = CoordClient(f"127.0.0.1:{proxy.listen_port}", session_timeout=4)
    await a.start()
    a.add_listener(states.append)
    async with CoordClient(zk_server.hosts) as b:
        gone: list[WatchedEvent] = []
        await a.create("/exp-eph", b"mine", ephemeral=True)
        await b.exists("/exp-eph", watch=gone.append)
        old_sid = a.session_id
        proxy.blackhole()  # A hears nothing, sends nothing
        await wait_until_async("A suspended", lambda: a.state == ConnState.SUSPENDED, 5)
        await wait_until_async(
            "A's ephemeral gone (its session expired)", lambda: bool(gone), 15
        )  # the server expired A's session
        assert gone[0].type == E.NODE_DELETED and await b.exists("/exp-eph") is None
        proxy.heal()
        await wait_until_async("A's session lost", lambda: a.state == ConnState.LOST, 10)
        assert states == [ConnState.SUSPENDED, ConnState.LOST]
        with pytest.raises(SessionExpiredError):
            await a.get("/")
        await a.start()  # a new session, on request
        assert a.state == ConnState.CONNECTED and a.session_id not in (0, old_sid)
        await a.stop()


async def test_retry_rides_out_a_short_outage(zk_server, proxy: FaultProxy) -> None:
    async with CoordClient(f"127.0.0.1:{proxy.listen_port}", session_timeout=8) as a:
        await a.create("/retry", b"r")
        proxy.cut()
        await wait_until_async("A suspended", lambda: a.state == ConnState.SUSPENDED, 5)
        asyncio.get_running_loop().call_later(0.3, proxy.heal)
        data, _ = await retry(a.get, "/retry", attempts=20, backoff=0.05, max_backoff=0.3)
        assert data == b"r"
        await a.delete("/retry")
        proxy.cut()
        await wait_until_async("A suspended", lambda: a.state == ConnState.SUSPENDED, 5)
        with pytest.raises(ConnectionLossError):
            await retry(a.get, "/retry", attempts=3, backoff=0.01)
        proxy.heal()


async def test_session_survives_a_server_restart(fresh_server) -> None:
    states: list[ConnState] = []
    async with CoordClient(fresh_server.hosts, session_timeout=10) as a:
        a.add_listener(states.append)
        sid = a.session_id
        await a.create("/restart-eph", b"e", ephemeral=True)
        fresh_server.stop()
        await wait_until_async("A suspended", lambda: a.state == ConnState.SUSPENDED, 10)
        fresh_server.start()
        await wait_until_async("A connected again", lambda: a.state == ConnState.CONNECTED, 15)
        assert a.session_id == sid and states == [ConnState.SUSPENDED, ConnState.CONNECTED]
        assert (await a.exists("/restart-eph")).ephemeralOwner == sid


async def test_start_fails_clearly_when_no_server_answers() -> None:
    from tests.support.ports import free_port

    port = free_port()
    client = CoordClient(f"127.0.0.1:{port}", session_timeout=1, connect_timeout=0.2)
    with pytest.raises(ConnectionLossError, match=f"could not connect to any of 127.0.0.1:{port}"):
        await client.start(timeout=0.5)
    with pytest.raises(ConnectionLossError, match="not connected"):
        await client.get("/")


async def test_reconnects_through_another_server_of_the_list(zk_server) -> None:
    with FaultProxy(zk_server.port) as p1, FaultProxy(zk_server.port) as p2:
        hosts = f"127.0.0.1:{p1.listen_port},127.0.0.1:{p2.listen_port}"
        async with CoordClient(hosts, session_timeout=8) as a:
            states: list[ConnState] = []
            a.add_listener(states.append)
            sid = a.session_id
            used, other = (p1, p2) if p1.connections_accepted else (p2, p1)
            assert other.connections_accepted == 0
            used.cut()  # this "server" is gone for good
            await wait_until_async("two state changes", lambda: len(states) == 2, 10)
            assert states == [ConnState.SUSPENDED, ConnState.CONNECTED]
            assert other.connections_accepted == 1 and a.session_id == sid
            assert await a.exists("/") is not None


async def test_auth_is_resent_on_reconnect(zk_server, proxy: FaultProxy) -> None:
    async with CoordClient(f"127.0.0.1:{proxy.listen_port}", session_timeout=8) as a:
        states: list[ConnState] = []
        a.add_listener(states.append)
        await a.add_auth("digest", b"bob:secret")
        assert ("digest", "bob") in await a.who_am_i()
        proxy.cut()
        await wait_until_async("A suspended", lambda: a.state == ConnState.SUSPENDED, 5)
        proxy.heal()
        await wait_until_async(
            "SUSPENDED then CONNECTED", lambda: states == [ConnState.SUSPENDED, ConnState.CONNECTED], 10
        )
        assert ("digest", "bob") in await a.who_am_i()  # auth belongs to the connection
