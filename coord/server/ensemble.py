"""One member of a coord ensemble: the standalone server with ZAB between prep and apply.

What changes against `CoordServer` (everything else, connections, reads, watches, the
data tree, is the same code):

- **writes** are ordered by the leader only. A member's client write becomes a
  `Forwarded` request; the leader prepares it on its `PrepView` (whose next zxid is the
  ZAB core's next zxid) and proposes the `Proposal` (txn + who waits for it); a follower
  hands it to the leader through ZAB's REQUEST. Every member applies committed entries
  in zxid order, and the member whose client sent the request (`origin`, `tag`) fills
  that client's reply slot when it applies it: read-your-writes on any member.
- **sessions** are global: any member creates one (the id carries its server id), the
  creation is a transaction; the serving leader alone expires sessions and cleans up
  containers, from touches its own clients make and those followers report with their
  acks. A new leader gives every session a fresh full timeout, as ZooKeeper does.
- **sync** on a follower asks the leader how far it has proposed and answers once that
  much is applied here.
- **no quorum, no service**: until the core says Serving (a leader with a synchronized
  quorum, or a follower the leader called up to date) every client connection is closed
  at once, so clients move to a member that can serve.

The leader prepares nothing until its tree has applied its whole initial history (the
committed entries of the Serving batch arrive after the Serving action itself); writes
that arrive before are held and prepared then, in arrival order.

This module must never apply anything the core has not committed, and never prepare a
txn whose zxid is not the one the core assigns to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from coord.security.tls import quorum_client_context, server_context
from coord.server import prep as P
from coord.server import txn as T
from coord.server.clock import mono_ms, now_ms
from coord.server.config import ServerConfig
from coord.server.datatree import DataTree
from coord.server.prep import PrepView
from coord.server.proposal import Forwarded, Proposal
from coord.server.server import CoordServer
from coord.server.snapshot import load_latest, open_newest, pack_image_steps, pack_tree
from coord.server.tree_image import TreeImage
from coord.server.txn import Applied, Txn
from coord.server.zab_storage import EnsembleStorage
from coord.zab import NotLeaderError, Role, SafetyError, Snapshot, SnapshotImage, ZabConfig
from coord.zab import actions as act
from coord.zab.leader import Leading
from coord.zab.link_security import LinkSecurity
from coord.zab.node import ZabNode

log = logging.getLogger("coord.server.ensemble")

# The core's heartbeat; initLimit / syncLimit stay in tickTime units, as configured.
HEARTBEAT_MS = 100

# Called when a proposal this member's client waits for is applied: (proposal, results).
Waiter = Callable[[Proposal, list[Any]], None]


def link_security(config: ServerConfig) -> LinkSecurity:
    """sslQuorum and quorum SASL, from ZooKeeper's settings, for the peer links."""
    sec = config.security_settings
    login = sec.quorum_learner
    return LinkSecurity(
        server_ssl=server_context(sec.quorum_tls) if sec.quorum_tls else None,
        client_ssl=quorum_client_context(sec.quorum_tls) if sec.quorum_tls else None,
        sasl_login=(login.username or "", login.password or "") if login else None,
        sasl_users=sec.quorum_server_users if sec.quorum_sasl else None,
        verify_peer_host=bool(sec.quorum_tls and sec.quorum_tls.hostname_verification),
    )


def zab_config(config: ServerConfig) -> ZabConfig:
    beat = min(HEARTBEAT_MS, config.tick_ms)
    per_tick = config.tick_ms / beat
    return ZabConfig(
        tick=beat / 1000,
        init_limit=max(2, round(config.init_limit * per_tick)),
        sync_limit=max(2, round(config.sync_limit * per_tick)),
        election_retry=2,
    )


class EnsembleServer(CoordServer):
    def __init__(self, config: ServerConfig) -> None:
        super().__init__(config)
        self.sid = config.server_id
        self.serving = False
        self.mode = "looking"
        self.storage = EnsembleStorage(config.data_dir)
        quorum = {sid: (host, qport) for sid, (host, qport, _) in config.ensemble.items()}
        self.node = ZabNode(
            self.sid,
            quorum,
            self.storage,
            self,
            zab_config(config),
            on_action=self._on_action,
            security=link_security(config),
        )
        self._waiting: dict[int, Waiter] = {}
        self._syncs: dict[int, Callable[[], None]] = {}
        self._sync_waits: list[tuple[int, Callable[[], None]]] = []
        self._held: list[tuple[int, Forwarded]] = []
        # Tags name this member's waiting requests in proposals; starting from the clock
        # keeps an entry logged by an earlier run of this member from matching a new one.
        self._next_tag = now_ms() * 1000
        self._ready = False  # leader: view built on the fully applied tree
        self._touched: set[int] = set()
        self._snapshotting: asyncio.Task | None = None  # a snapshot being packed in steps

    # -- lifecycle ---------------------------------------------------------------------

    def recover(self) -> None:
        """The tree starts at the newest snapshot; the log after it is the core's to
        apply, entry by entry, once it knows what is committed."""
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self._install_tree(load_latest(self._snap_dir) or DataTree())

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._io, self.recover)
        await self.listen()
        await self.endpoints.start()
        await self.node.start()
        if self.storage.truncated:
            log.warning("txn log had a torn tail (a write cut short by a crash): %s", self.storage.truncated)
        self._tasks = [
            asyncio.create_task(self._expiry_loop(), name="coord-expiry"),
            asyncio.create_task(self._container_loop(), name="coord-containers"),
            asyncio.create_task(self._touch_loop(), name="coord-touches"),
            asyncio.create_task(self._watch_node(), name="coord-zab-failed"),
        ]
        log.info(
            "coord member %d of %s: clients on %s:%d, data in %s",
            self.sid,
            sorted(self.config.ensemble),
            self.config.host,
            self.port,
            self.config.data_dir,
        )

    async def stop(self) -> None:
        await self.endpoints.stop()
        self.close_listeners()
        for conn in list(self.connections):
            conn.close()
        self._stop_snapshot()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.node.stop()
        self.storage.close()
        self._io.shutdown(wait=True)

    async def _watch_node(self) -> None:
        """Fail-stop: once the ZAB node stopped on a storage error this member serves no
        one, and `failed` tells its process to exit (it rejoins from its files on restart)."""
        await self.node.failed.wait()
        self._serving(False)
        self.failed.set()

    # -- what CoordServer's connections call ----------------------------------------------

    @property
    def owns_sessions(self) -> bool:
        return self._ready

    @property
    def outstanding(self) -> int:
        return len(self._waiting) + len(self._held)

    def write(
        self,
        session: int,
        op: tuple,
        ids: list[tuple[str, str]],
        now: int,
        done: Callable[[P.Prepared, list[Any]], None],
    ) -> None:
        def applied(p: Proposal, results: list[Any]) -> None:
            done(P.Prepared(p.txn, p.err, p.multi_errors), results)

        self._route(Forwarded(self._tag(applied), "op", [session, op, ids]))

    def new_session(self, timeout: int, on_applied: Applied) -> tuple[int, bytes]:
        sid = self.tracker.new_session_id()
        password = self.tracker.password_for(sid)
        tag = self._tag(lambda p, results: on_applied(p.txn, results))
        self._route(Forwarded(tag, "create_session", [sid, timeout, password]))
        return sid, password

    def close_session(self, sid: int, on_applied: Applied | None = None) -> None:
        self.tracker.set_closing(sid)
        tag = self._tag(None if on_applied is None else (lambda p, results: on_applied(p.txn, results)))
        self._route(Forwarded(tag, "close_session", [sid]))

    def submit(self, txn: Txn, on_applied: Applied | None = None) -> None:
        """A txn the leader made itself (container and TTL cleanup)."""
        tag = self._tag(None if on_applied is None else (lambda p, results: on_applied(p.txn, results)))
        self._propose(Proposal(txn, self.sid, tag, 0, None))

    def sync(self, done: Callable[[], None]) -> None:
        if self._is_leader():
            done()
            return
        self._next_tag += 1
        self._syncs[self._next_tag] = done
        try:
            self.node.sync(self._next_tag)
        except NotLeaderError:
            self._syncs.pop(self._next_tag, None)  # stopped serving: the connection closes

    def touch_session(self, sid: int, now: int, timeout: int | None = None) -> bool:
        alive = self.tracker.touch(sid, now, timeout)
        if alive and not self._is_leader():
            self._touched.add(sid)
        return alive

    # -- routing a write to the leader ----------------------------------------------------

    def _tag(self, waiter: Waiter | None) -> int:
        self._next_tag += 1
        if waiter is not None:
            self._waiting[self._next_tag] = waiter
        return self._next_tag

    def _is_leader(self) -> bool:
        peer = self.node.peer
        return peer is not None and isinstance(peer.role, Leading) and peer.serving

    def _route(self, fwd: Forwarded) -> None:
        if self._is_leader():
            self._order(self.sid, fwd)
            return
        try:
            self.node.forward(fwd.pack())
        except NotLeaderError:
            # Not serving any more: every connection is being closed, this one's too.
            self._waiting.pop(fwd.tag, None)

    def _order(self, origin: int, fwd: Forwarded) -> None:
        """Leader: prepare a request on the view, in arrival order, and propose it."""
        if not self._ready:
            self._held.append((origin, fwd))
            return
        now = now_ms()
        err, multi_errors = 0, None
        if fwd.kind == "op":
            session, op, ids = fwd.args
            prepared = self.view.prepare(session, tuple(op), now, [tuple(i) for i in ids])
            txn, err, multi_errors = prepared
        elif fwd.kind == "create_session":
            session, timeout, password = fwd.args
            txn = self.view.create_session(session, timeout, bytes(password), now)
        else:
            (session,) = fwd.args
            self.tracker.set_closing(session)
            txn = self.view.close_session(session, now)
        self._propose(Proposal(txn, origin, fwd.tag, err, multi_errors))

    def _propose(self, proposal: Proposal) -> None:
        zxid = self.node.propose(proposal.pack())
        if zxid != proposal.zxid:
            raise SafetyError(f"prepared zxid {proposal.zxid:#x} but ZAB assigned {zxid:#x}")

    # -- coord.zab.node.StateMachine ------------------------------------------------------

    def apply(self, zxid: int, data: bytes) -> None:
        proposal = Proposal.unpack(data)
        txn = proposal.txn
        if txn.kind == T.CREATE_SESSION and txn.body[0] not in self.tracker.sessions:
            self.tracker.add(txn.body[0], txn.body[1], mono_ms())
        waiter = self._waiting.pop(proposal.tag, None) if proposal.origin == self.sid else None
        self._apply(txn, None if waiter is None else (lambda _t, results: waiter(proposal, results)))
        while self._sync_waits and self._sync_waits[0][0] <= zxid:
            self._sync_waits.pop(0)[1]()
        self._since_snapshot += 1
        if self._since_snapshot >= self.config.snap_count and self._snapshotting is None:
            self._since_snapshot = 0  # (one at a time, as ZooKeeper's "too busy to snap")
            self._snapshotting = asyncio.get_running_loop().create_task(
                self._snapshot(self.tree, self.tree.attach_image()), name="coord-snapshot"
            )

    def restore(self, zxid: int, state: DataTree) -> None:
        self._install_tree(state)
        log.info("server %d installed the leader's snapshot at zxid %#x (%d znodes)", self.sid, zxid, len(state.nodes))

    def snapshot(self) -> SnapshotImage:
        """SNAP ships the newest durable snapshot file, read a chunk at a time (the log
        after it follows as the diff), so a big tree is neither packed nor held again.
        Without one the history starts at zxid 0, the empty tree."""
        return open_newest(self._snap_dir) or Snapshot(0, pack_tree(DataTree()))

    def _install_tree(self, tree: DataTree) -> None:
        self._stop_snapshot()  # of the tree being replaced
        self.tree = tree
        self.view = PrepView(tree, self.config.max_data_bytes)
        self._since_snapshot = 0
        self._restart_session_clocks()

    def _restart_session_clocks(self) -> None:
        """Track exactly the sessions of the tree, each with a full timeout from now and
        none closing: what a new leader owes every session, and what a member that stops
        serving must return to (as a leader it may have marked sessions closing, e.g.
        expired them all on waking from a pause, in closeSessions that never commit)."""
        now = mono_ms()
        for sid in [sid for sid in self.tracker.sessions if sid not in self.tree.sessions]:
            self.tracker.remove(sid)
        for sid, (timeout, _) in self.tree.sessions.items():
            self.tracker.add(sid, timeout, now)

    def _stop_snapshot(self) -> None:
        """Abandon a snapshot being packed (a cancelled task that never ran has no
        `finally`: the image is detached here)."""
        if self._snapshotting is not None:
            self._snapshotting.cancel()
            self._snapshotting = None
            self.tree.detach_image(None)

    async def _snapshot(self, tree: DataTree, image: TreeImage) -> None:
        """Snapshot the committed tree at the image's zxid, packed in bounded steps
        while transactions keep applying (the image keeps what they change: see
        `tree_image`), so the event loop, with this member's acks and pings, never
        waits for a whole tree. The file is written on the server's own I/O thread, not
        the node's: the node's carries the log's appends, and a 100+ MiB write and fsync
        queued there stalls this member's acks for seconds, long enough for the leader
        to drop it (syncLimit) and for its clients to lose their connection. Once the
        file is durable the log is rolled and purged on the node's thread, and the core
        forgets the log below it."""
        zxid = image.zxid
        try:
            body = []
            for part in pack_image_steps(image):
                body.append(part)
                await asyncio.sleep(0)
        finally:
            tree.detach_image(image)
            if self._snapshotting is asyncio.current_task():
                self._snapshotting = None
        loop = asyncio.get_running_loop()

        def failed(future: asyncio.Future[None]) -> bool:
            if future.cancelled() or future.exception() is None:
                return future.cancelled()
            log.error("snapshot at zxid %#x failed (%s); the log still has everything", zxid, future.exception())
            return True

        def purged(future: asyncio.Future[None]) -> None:
            if not failed(future):
                self.node.compact(zxid)

        def written(future: asyncio.Future[None]) -> None:
            if failed(future):
                return
            log.info(
                "snapshot at zxid %#x (%d bytes of body, %d nodes changed while packing)",
                zxid,
                sum(map(len, body)),
                image.kept,
            )
            if self.node.running and not self.node.failed.is_set():
                self.node.run_io(self.storage.purge_log).add_done_callback(purged)

        loop.run_in_executor(self._io, self.storage.write_snapshot, zxid, body).add_done_callback(written)

    # -- what the core tells us -----------------------------------------------------------

    def _on_action(self, a: act.Action) -> None:
        if isinstance(a, act.Apply | act.Serving):
            if isinstance(a, act.Serving):
                self._serving(a.on)
            self._maybe_ready()
        elif isinstance(a, act.RoleChanged):
            log.info("server %d is now %s (epoch %d, leader %s)", self.sid, a.role, a.epoch, a.leader)
        elif isinstance(a, act.ForwardedRequest):
            try:
                self._order(a.origin, Forwarded.unpack(a.payload))
            except (ValueError, TypeError) as exc:
                log.warning("dropping an undecodable request forwarded by server %d: %s", a.origin, exc)
        elif isinstance(a, act.SessionTouches):
            now = mono_ms()
            for sid in a.sessions:
                self.tracker.touch(sid, now)
        elif isinstance(a, act.SyncReady):
            done = self._syncs.pop(a.tag, None)
            if done is not None:
                if self.tree.last_zxid >= a.zxid:
                    done()
                else:
                    self._sync_waits.append((a.zxid, done))
                    self._sync_waits.sort(key=lambda w: w[0])

    def _serving(self, on: bool) -> None:
        self.serving = on
        peer = self.node.peer
        if on:
            self.mode = "leader" if peer is not None and peer.state == Role.LEADING else "follower"
            log.info("server %d serving clients as %s", self.sid, self.mode)
            return
        self.mode = "looking"
        self._ready = False
        self._waiting.clear()
        self._syncs.clear()
        self._sync_waits.clear()
        self._held.clear()
        self._touched.clear()
        self._restart_session_clocks()
        if self.connections:
            log.info("server %d stops serving: closing %d client connections", self.sid, len(self.connections))
        for conn in list(self.connections):
            conn.close()

    def _maybe_ready(self) -> None:
        """Leader: once the whole initial history is applied, build the view the next
        zxid continues, restart every session's clock, and order what was held."""
        peer = self.node.peer
        if self._ready or not self._is_leader() or peer is None or self.tree.last_zxid != peer.last_zxid:
            return
        self.view = PrepView(self.tree, self.config.max_data_bytes)
        self.view.next_zxid = peer.next_zxid()
        self._restart_session_clocks()
        self._ready = True
        held, self._held = self._held, []
        for origin, fwd in held:
            self._order(origin, fwd)

    async def _touch_loop(self) -> None:
        """Follower: report the sessions its clients kept alive (sent with the next ack)."""
        while True:
            await asyncio.sleep(HEARTBEAT_MS / 1000)
            if self._touched:
                self.node.touch(sorted(self._touched))
                self._touched.clear()

    # -- 4lw ----------------------------------------------------------------------------

    @property
    def quorum_metrics(self) -> list[tuple[str, Any]]:
        """ZooKeeper's quorum gauges: quorum_size on every member, the learner counts on
        the leader. No observers exist here, and the leader answers a sync at once (it
        holds none), so those gauges are zero by construction."""
        size = [("quorum_size", len(self.config.ensemble))]
        peer = self.node.peer
        if peer is None or not isinstance(peer.role, Leading):
            return size
        recs = peer.role.recs
        pending = len(peer.history.between(peer.commit_zxid, peer.last_zxid))
        return [
            *size,
            ("learners", len(recs)),
            ("followers", len(recs)),
            ("synced_followers", sum(1 for r in recs.values() if r.synced)),
            ("synced_non_voting_followers", 0),
            ("synced_observers", 0),
            ("pending_proposals", pending),
            ("pending_syncs", 0),
        ]

    def leader_info(self) -> tuple[bool, int, str] | None:
        """(this member leads, leader id, leader's quorum address) for the AdminServer's
        `leader` command; None while no leader is known."""
        peer = self.node.peer
        leader = None if peer is None else peer.role.leader
        if leader is None or leader not in self.config.ensemble:
            return None
        host, qport, _ = self.config.ensemble[leader]
        return self._is_leader(), leader, f"{host}:{qport}"
