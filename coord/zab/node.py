"""The asyncio shell around one `Peer`: timers, peer links, storage, the state machine.

Every input (a tick, a peer message, a client proposal, a finished fsync) goes through
one queue consumed by one task, so the core sees one event at a time and actions are
carried out strictly in order. Storage calls run on one I/O thread (FIFO): appends are
submitted without waiting and reported back as `persisted` once fsynced (appends made
while one is in flight are joined into the next write: group commit); epoch writes,
truncation and snapshot installs are awaited before the next action, as the core's
contract demands. A follower's snapshot chunks are written there too, each awaited
(the next chunk is taken once one is written); a leader's are read on a thread of their
own, each awaited so it leaves in order with the sends around it. The server plugs in
through `Storage` and the callbacks.

Storage errors are fail-stop: once a write, fsync, truncation or snapshot install fails,
the log may not hold what the core believes it holds, so the node reports nothing more as
persisted, stops (sockets closed, waiters failed) and sets `failed`; its owner ends the
process, and the restarted member rejoins from what is really on disk (ZooKeeper's
SyncRequestProcessor shuts the server down the same way).

This module must never decide anything the core decides (who leads, what is committed),
never block the event loop on disk I/O, and never report `persisted` past a failed write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from coord.zab import actions as act
from coord.zab.config import ZabConfig
from coord.zab.errors import NotLeaderError
from coord.zab.link_security import LinkSecurity
from coord.zab.log import SnapshotImage
from coord.zab.messages import Entry, Message, SnapChunk
from coord.zab.peer import Peer, PersistentState
from coord.zab.transport import PeerNetwork

log = logging.getLogger("coord.zab.node")


class Storage(Protocol):
    """Durable state of one member; every method but `stage_snapshot` returns only once
    it is durable."""

    def load(self) -> PersistentState: ...
    def save_epochs(self, accepted: int, current: int) -> None: ...
    def append(self, entries: list[Entry]) -> None: ...
    def truncate(self, zxid: int) -> None: ...
    def stage_snapshot(self, zxid: int, offset: int, data: bytes) -> None: ...
    def install_snapshot(self, zxid: int, size: int) -> None: ...
    def load_snapshot(self, zxid: int) -> Any:
        """The installed snapshot at zxid, read back as the state machine's `restore`
        takes it (on the I/O thread: it may be big)."""


class StateMachine(Protocol):
    """The replicated state. At `start` it must already hold the storage's snapshot (the
    server's recovery loads it); afterwards it changes only through these calls."""

    def apply(self, zxid: int, data: bytes) -> None: ...
    def restore(self, zxid: int, state: Any) -> None: ...
    def snapshot(self) -> SnapshotImage:
        """An image of a durable snapshot in the core's history, for SNAP."""


class ZabNode:
    def __init__(
        self,
        sid: int,
        addresses: dict[int, tuple[str, int]],
        storage: Storage,
        machine: StateMachine,
        config: ZabConfig = ZabConfig(),
        on_action: Callable[[act.Action], None] | None = None,
        security: LinkSecurity = LinkSecurity(),
    ) -> None:
        self.sid = sid
        self.addresses = addresses
        self.storage = storage
        self.machine = machine
        self.config = config
        self.on_action = on_action
        self.peer: Peer | None = None
        self.net = PeerNetwork(sid, addresses, self._from_peer, on_lost=self._link_lost, security=security)
        self._events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._io = ThreadPoolExecutor(1, thread_name_prefix=f"zab-io-{sid}")
        # Snapshot chunks for followers are read apart from the log's writes and fsyncs.
        self._reader = ThreadPoolExecutor(1, thread_name_prefix=f"zab-snap-{sid}")
        self._appending: list[Entry] = []
        self._inflight: asyncio.Future[None] | None = None
        self._generation = 0
        self._waiters: dict[int, asyncio.Future[int]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._kicked = False
        self.failed = asyncio.Event()  # a storage call failed: this node stopped for good
        self._stopping: asyncio.Task[None] | None = None

    # ----- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        state = await loop.run_in_executor(self._io, self.storage.load)
        self.peer = Peer(self.sid, frozenset(self.addresses), self.config, state, self.machine.snapshot, loop.time())
        await self.net.start()
        self._tasks = [
            asyncio.create_task(self._run(), name=f"zab-node-{self.sid}"),
            asyncio.create_task(self._ticker(), name=f"zab-tick-{self.sid}"),
        ]

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not all(t.done() for t in self._tasks)

    async def stop(self) -> None:
        if not self.running:
            return
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        await self.net.close()
        self._io.shutdown(wait=True)
        self._reader.shutdown(wait=True)
        self._fail_waiters(NotLeaderError(None, f"server {self.sid} stopped"))

    def _fail_stop(self, exc: BaseException) -> None:
        """A storage call failed: acknowledge nothing more, and stop."""
        if self.failed.is_set():
            return
        log.critical(
            "server %d stops: its storage failed (%r); restart it to rejoin from what is on disk", self.sid, exc
        )
        self.failed.set()
        self._appending.clear()
        self._stopping = asyncio.get_running_loop().create_task(self.stop(), name=f"zab-fail-stop-{self.sid}")

    # ----- client side -------------------------------------------------------------
    async def write(self, data: bytes) -> int:
        """Leader only: propose, and return the zxid once it is applied here."""
        zxid = self.propose(data)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiters[zxid] = future
        return await future

    def propose(self, data: bytes) -> int:
        """Leader only: order `data` now (NotLeaderError otherwise); it is sent to the
        followers with everything else proposed in this loop iteration (one batch)."""
        assert self.peer is not None
        zxid = self.peer.propose(data, asyncio.get_running_loop().time())
        self._kick()
        return zxid

    def forward(self, payload: bytes) -> None:
        """Follower only: hand a client write to the leader (NotLeaderError otherwise)."""
        assert self.peer is not None
        self.peer.forward(payload, asyncio.get_running_loop().time())
        self._kick()

    def sync(self, tag: int) -> None:
        """Follower only: a SyncReady(tag, zxid) action follows (NotLeaderError otherwise)."""
        assert self.peer is not None
        self.peer.sync(tag, asyncio.get_running_loop().time())
        self._kick()

    def touch(self, sessions: list[int]) -> None:
        """Follower: sessions that showed life here, for the leader (sent with the next ack)."""
        if self.peer is not None:
            self.peer.touch(sessions)

    def compact(self, zxid: int) -> None:
        """A durable snapshot at zxid now covers the log below it."""
        if self.peer is not None:
            self.peer.compact(zxid)

    def run_io(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run a blocking storage job on the I/O thread, in order with the log writes."""
        return asyncio.get_running_loop().run_in_executor(self._io, fn, *args)

    def _kick(self) -> None:
        """Make the core's buffered output leave once this loop iteration is done."""
        if not self._kicked:
            self._kicked = True
            self._events.put_nowait(("flush", None))

    # ----- the event loop of the core ----------------------------------------------
    def _from_peer(self, sender: int, msg: Message) -> None:
        self._events.put_nowait(("msg", (sender, msg)))

    def _link_lost(self, sender: int) -> None:
        self._events.put_nowait(("lost", sender))

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick)
            self._events.put_nowait(("tick", None))

    async def _run(self) -> None:
        try:
            await self._loop()
        except Exception as exc:  # noqa: BLE001 - a durable action (epochs, truncation,
            self._fail_stop(exc)  # snapshot) failed, or a bug: either way this node is done

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.peer is not None
        await self._carry_out(self.peer.ready())
        while not self.failed.is_set():
            kind, arg = await self._events.get()
            now = loop.time()
            if kind == "tick":
                self.peer.tick(now)
            elif kind == "msg":
                self.peer.receive(arg[0], arg[1], now)
            elif kind == "persisted" and arg[0] == self._generation and not self.failed.is_set():
                self.peer.persisted(arg[1], now)
            elif kind == "lost":
                self.peer.link_lost(arg, now)
            elif kind == "flush":
                self._kicked = False
            await self._carry_out(self.peer.ready())

    async def _carry_out(self, actions: list[act.Action]) -> None:
        for a in actions:
            if self.failed.is_set():
                return
            if isinstance(a, act.Send):
                self.net.send(a.to, a.msg)
            elif isinstance(a, act.SendSnapshotChunk):
                # Awaited here, so the chunk leaves in order with the sends around it.
                data = await asyncio.get_running_loop().run_in_executor(self._reader, a.image.read, a.offset, a.size)
                self.net.send(a.to, SnapChunk(a.epoch, a.stream, a.seq, a.offset, data))
            elif isinstance(a, act.StageSnapshot):
                # Awaited too: a follower takes the next chunk once this one is written.
                await asyncio.get_running_loop().run_in_executor(
                    self._io, self.storage.stage_snapshot, a.zxid, a.offset, a.data
                )
            elif isinstance(a, act.AppendLog):
                self._appending.extend(a.entries)
                self._start_append()
            elif isinstance(a, act.Apply):
                self.machine.apply(a.zxid, a.data)
                waiter = self._waiters.pop(a.zxid, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(a.zxid)
            elif isinstance(a, (act.PersistEpochs, act.TruncateLog, act.InstallSnapshot)):
                await self._durable(a)
            elif isinstance(a, act.Serving) and not a.on:
                self._fail_waiters(NotLeaderError(None, f"server {self.sid} stopped serving"))
            if self.on_action is not None:
                self.on_action(a)

    async def _durable(self, a: act.Action) -> None:
        """An action that must be durable before the next: drain appends, then do it."""
        loop = asyncio.get_running_loop()
        while self._inflight is not None:
            await asyncio.wait([self._inflight])
        if self.failed.is_set():
            return
        if self._appending:
            batch, self._appending = self._appending, []
            await loop.run_in_executor(self._io, self.storage.append, batch)
        if isinstance(a, act.PersistEpochs):
            await loop.run_in_executor(self._io, self.storage.save_epochs, a.accepted_epoch, a.current_epoch)
            return
        if isinstance(a, act.TruncateLog):
            await loop.run_in_executor(self._io, self.storage.truncate, a.zxid)
            durable = a.zxid
        else:
            assert isinstance(a, act.InstallSnapshot)
            await loop.run_in_executor(self._io, self.storage.install_snapshot, a.zxid, a.size)
            state = await loop.run_in_executor(self._io, self.storage.load_snapshot, a.zxid)
            self.machine.restore(a.zxid, state)
            durable = a.zxid
        # Reports of appends from before this point no longer mean what they said.
        self._generation += 1
        self._events.put_nowait(("persisted", (self._generation, durable)))

    def _start_append(self) -> None:
        if self._inflight is not None or not self._appending or self.failed.is_set():
            return
        batch, self._appending = self._appending, []
        generation = self._generation
        self._inflight = asyncio.get_running_loop().run_in_executor(self._io, self.storage.append, batch)
        self._inflight.add_done_callback(lambda f: self._appended(f, generation, batch[-1][0]))

    def _appended(self, future: asyncio.Future[None], generation: int, last: int) -> None:
        self._inflight = None
        if future.cancelled():
            return
        if (exc := future.exception()) is not None:
            self._fail_stop(exc)
            return
        self._events.put_nowait(("persisted", (generation, last)))
        self._start_append()

    def _fail_waiters(self, exc: Exception) -> None:
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(exc)
        self._waiters.clear()
