"""Master election through coord: database servers compete for an ephemeral `/master`
node holding their address; app servers watch it and send writes only to the master.

Run against any coord or ZooKeeper server:

    python docs/examples/master_election.py --servers 127.0.0.1:2181

Each database and app server has its own session (in a real deployment each is its own
process). After `--crash-after` seconds the current master crashes (its session is
closed, as it would be when it expires), `/master` disappears, a standby takes over, and
the app servers learn the new address from the watch event. An app server stops sending
writes the moment its session is SUSPENDED or `/master` is gone, until a master appears.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Coroutine
from typing import Any

from coord.client import ConnState, CoordClient, WatchedEvent
from coord.protocol.errors import NodeExistsError, NoNodeError
from coord.protocol.opcodes import EventType

_background: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, Any]) -> None:
    """Run `coro` as a task from a watch callback, holding a reference until it ends
    (the event loop keeps only weak ones)."""
    task = asyncio.ensure_future(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


class DatabaseServer:
    """Tries to become master; while standby, watches /master and retries when it goes."""

    def __init__(self, servers: str, root: str, address: str) -> None:
        self.zk = CoordClient(servers, session_timeout=10)
        self.path, self.address = f"{root}/master", address
        self.is_master = False
        self._retry = asyncio.Event()

    async def start(self) -> None:
        await self.zk.start()
        self.zk.add_listener(self._on_state)
        await self._campaign()

    def _on_state(self, state: ConnState) -> None:
        if state != ConnState.CONNECTED and self.is_master:
            self.is_master = False  # in doubt: another server may be master already
            print(f"[db {self.address}] session {state.value}: no longer acting as master")

    async def _campaign(self) -> None:
        try:
            await self.zk.create(self.path, self.address.encode(), ephemeral=True, makepath=True)
            self.is_master = True
            print(f"[db {self.address}] I am the master")
        except NodeExistsError:
            if await self.zk.exists(self.path, watch=self._on_master_event) is None:
                await self._campaign()  # it went away between the two calls
            else:
                print(f"[db {self.address}] standby")

    def _on_master_event(self, event: WatchedEvent) -> None:
        if event.type == EventType.NODE_DELETED:
            spawn(self._campaign())
        else:
            spawn(self.zk.exists(self.path, watch=self._on_master_event))

    async def crash(self) -> None:
        print(f"[db {self.address}] crashing")
        await self.zk.stop()


class AppServer:
    """Sends writes to the current master only; pauses when it cannot know who that is."""

    def __init__(self, servers: str, root: str, name: str) -> None:
        self.zk = CoordClient(servers, session_timeout=10)
        self.path, self.name = f"{root}/master", name
        self.master: str | None = None
        self.writes: list[str] = []

    async def start(self) -> None:
        await self.zk.start()
        self.zk.add_listener(self._on_state)
        await self._learn()

    def _on_state(self, state: ConnState) -> None:
        if state != ConnState.CONNECTED:
            self.master = None
            print(f"[app {self.name}] session {state.value}: writes paused")
        else:
            spawn(self._learn())

    async def _learn(self) -> None:
        try:
            data, _ = await self.zk.get(self.path, watch=self._on_event)
            self.master = data.decode() if data else None
            print(f"[app {self.name}] master is {self.master}")
        except NoNodeError:
            self.master = None
            print(f"[app {self.name}] no master: writes paused")
            if await self.zk.exists(self.path, watch=self._on_event) is not None:
                await self._learn()

    def _on_event(self, event: WatchedEvent) -> None:
        if event.type == EventType.NODE_DELETED:
            self.master = None  # stop at once, before re-reading
        spawn(self._learn())

    def write(self, n: int) -> None:
        if self.master is not None and self.zk.state == ConnState.CONNECTED:
            self.writes.append(self.master)
            if n % 5 == 0:
                print(f"[app {self.name}] write {n} -> {self.master}")


async def main(servers: str, root: str, seconds: float, crash_after: float) -> dict[str, list[str]]:
    dbs = [DatabaseServer(servers, root, f"10.0.0.{i}:5432") for i in (1, 2, 3)]
    apps = [AppServer(servers, root, f"app{i}") for i in (1, 2)]
    for server in (*dbs, *apps):
        await server.start()
    crashed = False
    steps = int(seconds / 0.1)
    for n in range(steps):
        if not crashed and n * 0.1 >= crash_after:
            await next(db for db in dbs if db.is_master).crash()
            crashed = True
        for app in apps:
            app.write(n)
        await asyncio.sleep(0.1)
    masters = [db.address for db in dbs if db.is_master]
    print(f"masters at the end: {masters}")
    for server in (*dbs, *apps):
        await server.zk.stop()
    async with CoordClient(servers) as zk:
        await zk.delete(root, recursive=True)
    return {app.name: app.writes for app in apps}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default="127.0.0.1:2181")
    parser.add_argument("--root", default="/example-db")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--crash-after", type=float, default=1.5)
    a = parser.parse_args()
    asyncio.run(main(a.servers, a.root, a.seconds, a.crash_after))
