"""The standalone coord server: recovery, the request pipeline, timers, the listener.

Pipeline (ZooKeeper's processors, kept as visible stages so that a ZAB quorum stage can
be put between log and apply later):

1. prep  -- `PrepView.prepare` turns a write into a Txn with the next zxid (on the loop);
2. log   -- `_committer` takes every txn prepared since the last fsync and writes them
            with ONE write + fdatasync on the I/O thread (group commit);
3. apply -- `DataTree.apply` in zxid order, then the watch notifications are queued on
            their connections (before any later reply: the watch-before-data guarantee);
4. reply -- the connection that sent the request gets its reply slot filled and flushes
            its replies in request order.

Session expiry and container/TTL cleanup are timers that feed the same pipeline.

This module must never reply before a txn is fsynced, apply out of zxid order, or block
the event loop on disk I/O (the single I/O thread does it, which also keeps log writes,
log rolls and snapshot writes in order).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from coord.protocol.opcodes import Perms
from coord.security.tls import server_context
from coord.security.tls_accept import TlsAcceptor
from coord.server import prep as P
from coord.server import txn as T
from coord.server.acl import allowed
from coord.server.clock import mono_ms, now_ms
from coord.server.config import ServerConfig
from coord.server.connection import Connection
from coord.server.datatree import DataTree, WatchEvent
from coord.server.endpoints import Endpoints
from coord.server.prep import PrepView
from coord.server.serverinfo import FSYNC_WARN_MS, ServerStats
from coord.server.sessions import SessionTracker
from coord.server.snapshot import load_latest, oldest_kept_zxid, pack_image_steps, write_snapshot
from coord.server.throttle import OutstandingLimit
from coord.server.txn import Applied, Txn
from coord.server.txnlog import TxnLog
from coord.server.watches import WatchManager

log = logging.getLogger("coord.server")


class CoordServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.tree = DataTree()
        self.view = PrepView(self.tree, config.max_data_bytes)
        self.watches = WatchManager()
        self.stats = ServerStats(mono_ms())
        self.tracker = SessionTracker(config.server_id, config.tick_ms, mono_ms(), os.urandom(32), id_seed_ms=now_ms())
        self.mode = "standalone"
        self.serving = True  # an ensemble member serves only with a quorum
        self.connections: list = []
        self.session_conns: dict[int, Any] = {}
        self.outstanding_limit = OutstandingLimit(config.global_outstanding_limit)
        self._pending: list[tuple[Txn, Applied | None]] = []
        self._inflight = 0
        self._wake = asyncio.Event()
        self.failed = asyncio.Event()  # set when the txn log cannot be written
        self._io = ThreadPoolExecutor(1, thread_name_prefix="coord-io")
        self._txnlog = TxnLog(config.data_dir / "log")
        self._snap_dir = config.data_dir / "snapshot"
        self._since_snapshot = 0
        self._tasks: list[asyncio.Task] = []
        self._listener: asyncio.base_events.Server | None = None
        self._secure_listener: asyncio.base_events.Server | None = None
        self._tls_acceptor: TlsAcceptor | None = None
        self.port = config.client_port
        self.endpoints = Endpoints(self)  # /metrics and the AdminServer, when configured
        self.secure_port: int | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def recover(self) -> None:
        """Load the newest snapshot and replay the log after it (blocking, before start)."""
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        tree = load_latest(self._snap_dir) or DataTree()
        replay = self._txnlog.read_all(after_zxid=tree.last_zxid)
        for txn in replay:
            tree.apply(txn)
        if self._txnlog.truncated:
            log.warning("txn log had a torn tail (a write cut short by a crash): %s", self._txnlog.truncated)
        self.tree = tree
        self.view = PrepView(tree, self.config.max_data_bytes)
        self._since_snapshot = len(replay)
        self._txnlog.roll(tree.last_zxid + 1)
        now = mono_ms()
        for sid, (timeout, _) in tree.sessions.items():
            self.tracker.add(sid, timeout, now)
        log.info(
            "recovered zxid 0x%x: %d nodes, %d sessions (%d txns replayed)",
            tree.last_zxid,
            len(tree.nodes),
            len(tree.sessions),
            len(replay),
        )

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._io, self.recover)
        await self.listen()
        await self.endpoints.start()
        self._tasks = [
            asyncio.create_task(self._committer(), name="coord-committer"),
            asyncio.create_task(self._expiry_loop(), name="coord-expiry"),
            asyncio.create_task(self._container_loop(), name="coord-containers"),
        ]
        log.info(
            "coord server %d serving on %s:%d, data in %s",
            self.config.server_id,
            self.config.host,
            self.port,
            self.config.data_dir,
        )

    async def listen(self) -> None:
        """The client port, and ZooKeeper's secureClientPort (TLS) when configured."""
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            lambda: Connection(self), self.config.host, self.config.client_port, backlog=1024, reuse_address=True
        )
        self.port = self._listener.sockets[0].getsockname()[1]
        sec = self.config.security_settings
        if sec.secure_client_port is not None and sec.client_tls is not None:
            self._tls_acceptor = TlsAcceptor(
                server_context(sec.client_tls),
                sec.client_tls.handshake_timeout,
                lambda: Connection(self),
                "the secure client port",
            )
            self._secure_listener = await loop.create_server(
                self._tls_acceptor, self.config.host, sec.secure_client_port, backlog=1024, reuse_address=True
            )
            self.secure_port = self._secure_listener.sockets[0].getsockname()[1]
            log.info(
                "TLS clients on %s:%d (clientAuth=%s)", self.config.host, self.secure_port, sec.client_tls.client_auth
            )

    def close_listeners(self) -> None:
        for listener in (self._listener, self._secure_listener):
            if listener is not None:
                listener.close()
        if self._tls_acceptor is not None:
            self._tls_acceptor.close()

    async def stop(self) -> None:
        await self.endpoints.stop()
        self.close_listeners()
        for conn in list(self.connections):
            conn.close()
        deadline = time.monotonic() + 5
        while (self._pending or self._inflight) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(self._io, self._txnlog.close)
        self._io.shutdown(wait=True)

    # -- the pipeline --------------------------------------------------------------------

    @property
    def outstanding(self) -> int:
        return len(self._pending) + self._inflight

    @property
    def session_count(self) -> int:
        return len(self.tree.sessions)

    @property
    def owns_sessions(self) -> bool:
        """Whether this server decides session expiry and container cleanup (in an
        ensemble only the serving leader does)."""
        return True

    @property
    def quorum_metrics(self) -> list[tuple[str, Any]]:
        """Extra `mntr` rows of an ensemble member; none when standalone."""
        return []

    def leader_info(self) -> tuple[bool, int, str] | None:
        """Standalone has no leader (the AdminServer's `leader` says so)."""
        return None

    def write(
        self,
        session: int,
        op: tuple,
        ids: list[tuple[str, str]],
        now: int,
        done: Callable[[P.Prepared, list[Any]], None],
    ) -> None:
        """A client write: prepare it, log it, apply it, then `done(prepared, results)`."""
        prepared = self.view.prepare(session, op, now, ids)
        self.submit(prepared.txn, lambda _txn, results: done(prepared, results))

    def sync(self, done: Callable[[], None]) -> None:
        """A client's sync: standalone has no leader to catch up with."""
        done()

    def touch_session(self, sid: int, now: int, timeout: int | None = None) -> bool:
        """A session showed life on this server."""
        return self.tracker.touch(sid, now, timeout)

    def submit(self, txn: Txn, on_applied: Applied | None = None) -> None:
        """Queue a prepared txn for logging; `on_applied` runs after it is applied."""
        self._pending.append((txn, on_applied))
        self._wake.set()

    async def _committer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending, []
                self._inflight = len(batch)
                entries = [txn.pack() for txn, _ in batch]
                started = mono_ms()
                try:
                    await loop.run_in_executor(self._io, self._txnlog.append, entries)
                except OSError as e:
                    # Nothing in this batch may be acknowledged or applied; a server that
                    # cannot persist must stop rather than serve state it may lose.
                    log.critical("cannot write the txn log (%s); stopping the server", e)
                    self.failed.set()
                    return
                if mono_ms() - started > FSYNC_WARN_MS:
                    self.stats.fsync_slow += 1
                for txn, on_applied in batch:
                    self._apply(txn, on_applied)
                self._inflight = 0
                await self._maybe_snapshot(len(batch))

    def _apply(self, txn: Txn, on_applied: Applied | None) -> None:
        events, results = self.tree.apply(txn)
        self.view.applied(txn.zxid)
        if events:
            self._notify(events)
        if txn.kind == T.CLOSE_SESSION:
            sid = txn.body[0]
            self.tracker.remove(sid)
            conn = self.session_conns.pop(sid, None)
            if on_applied is not None:
                on_applied(txn, results)
            if conn is not None:
                conn.close_after_flush()
            return
        if on_applied is not None:
            on_applied(txn, results)

    def _notify(self, events: list[WatchEvent]) -> None:
        for watcher, etype, path in self.watches.trigger(events, may_read):
            cast(Connection, watcher).send_event(etype, path)  # our watchers are our connections

    async def _maybe_snapshot(self, applied: int) -> None:
        self._since_snapshot += applied
        if self._since_snapshot < self.config.snap_count:
            return
        self._since_snapshot = 0
        # Nothing is applied while this runs (we are the committer), so the image needs
        # no copy-on-write; reads and pings are answered between its steps.
        image = self.tree.image()
        parts = []
        for part in pack_image_steps(image):
            parts.append(part)
            await asyncio.sleep(0)
        # Queued on the single I/O thread: the roll happens before any later append.
        self._io.submit(self._snapshot_job, image.zxid, parts)

    def _snapshot_job(self, zxid: int, parts: list[bytes]) -> None:
        try:
            self._txnlog.roll(zxid + 1)
            write_snapshot(self._snap_dir, zxid, parts)
            oldest = oldest_kept_zxid(self._snap_dir)
            if oldest is not None:
                self._txnlog.purge_before(oldest)
            log.info("snapshot at zxid 0x%x (%d bytes of body)", zxid, sum(map(len, parts)))
        except OSError:
            log.exception("snapshot at zxid 0x%x failed; the txn log still has everything", zxid)

    # -- sessions ------------------------------------------------------------------------

    def new_session(self, timeout: int, on_applied: Applied) -> tuple[int, bytes]:
        sid = self.tracker.new_session_id()
        password = self.tracker.password_for(sid)
        self.tracker.add(sid, timeout, mono_ms())
        self.submit(self.view.create_session(sid, timeout, password, now_ms()), on_applied)
        return sid, password

    def session_valid(self, sid: int, password: bytes) -> bool:
        known = self.tree.sessions.get(sid)
        return known is not None and known[1] == password and self.tracker.is_alive(sid)

    def close_session(self, sid: int, on_applied: Applied | None = None) -> None:
        self.tracker.set_closing(sid)
        self.submit(self.view.close_session(sid, now_ms()), on_applied)

    async def _expiry_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick_ms / 1000 / 2)
            if not self.owns_sessions:
                continue
            for sid in self.tracker.expire(mono_ms()):
                log.info("session 0x%x expired", sid)
                self.close_session(sid)

    # -- containers and TTL nodes ----------------------------------------------------------

    def check_containers(self, now: int) -> int:
        """Submit deletes for empty used containers and expired TTL nodes; returns how many."""
        doomed = []
        for path in self.tree.containers:
            node = self.tree.nodes[path]
            if not node.children and node.seq > 0:
                doomed.append(path)
        for path in self.tree.ttls:
            node = self.tree.nodes[path]
            ttl = T.ttl_of(node.owner)
            if not node.children and ttl is not None and now - node.mtime > ttl:
                doomed.append(path)
        for path in sorted(doomed):
            self.submit(self.view.prepare(0, (P.OP_DELETE_CONTAINER, path, -1), now).txn)
        return len(doomed)

    async def _container_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.container_check_ms / 1000)
            if self.owns_sessions:
                self.check_containers(now_ms())


def may_read(conn: Any, acl: list) -> bool:
    """Whether a watching connection may READ a node with this ACL (watch delivery)."""
    return allowed(acl, Perms.READ, conn.ids)
