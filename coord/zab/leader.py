"""The LEADING role: discovery, synchronization and broadcast, leader side.

Phases: DISCOVERY (collect FOLLOWERINFO from a quorum, itself included; propose
epoch = max(acceptedEpoch) + 1 with LEADERINFO; wait for ACKEPOCH from a quorum, and
step down if any of them holds a better history than its own) -> SYNC (currentEpoch
= epoch once its own history is durable; stream each follower DIFF, TRUNC + DIFF or
SNAP + DIFF, then NEWLEADER, in bounded pieces (sync.py); wait until a quorum,
itself included, has durably logged the whole initial history) -> BROADCAST (serve:
assign zxids epoch<<32|counter, batch proposals per flush, commit the highest zxid a
quorum has acked, in order). Late followers go through the same steps against the
running epoch; one that promised a later epoch than the running one (to a leader
attempt that failed) makes the leader step down, or it could never rejoin.
A leader that does not hear from a quorum within syncLimit ticks, or
does not reach BROADCAST within initLimit ticks, goes back to LOOKING; once it has, it
can commit nothing more (it holds no role state any longer).

This module must never commit without a quorum of durable acks, serve before a quorum
acked NEWLEADER, or send a proposal outside its own epoch.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from coord.zab import actions as act
from coord.zab.election import answer_looking
from coord.zab.errors import SafetyError
from coord.zab.log import entry_size, make_zxid
from coord.zab.messages import (
    LEADING,
    Ack,
    AckEpoch,
    Commit,
    Entry,
    FollowerInfo,
    LeaderInfo,
    Message,
    Notification,
    Ping,
    Proposal,
    Request,
    SyncAck,
    SyncReply,
    SyncRequest,
)
from coord.zab.quorum import is_quorum, quorum_acked
from coord.zab.roles import PeerView, Role, RoleState
from coord.zab.sync import HistoryCompactedError, SyncStream


class Phase(enum.IntEnum):
    DISCOVERY = 0
    SYNC = 1
    BROADCAST = 2


@dataclass
class FollowerRec:
    """What the leader knows of one connected follower in this epoch."""

    last_heard: float
    accepted_epoch: int
    last_zxid: int = 0
    newleader_sent: bool = False
    stream: SyncStream | None = None  # its synchronization, until it holds all of it
    synced: bool = False  # it acked NEWLEADER: counts for quorums
    sync_last: int = 0
    acked: int = 0
    resend_mark: int = -1
    waiting_since: float = 0.0  # its ack last moved (or was last answered) then


class Leading(RoleState):
    role = Role.LEADING

    def __init__(self, peer: PeerView) -> None:
        super().__init__(peer)
        self.phase = Phase.DISCOVERY
        self.epoch = -1
        self.infos: dict[int, int] = {peer.sid: peer.accepted_epoch}
        self.epoch_acks: set[int] = set()
        self.recs: dict[int, FollowerRec] = {}
        self.counter = 0
        self.initial_last = 0
        self.pending: list[Entry] = []
        self.deadline = 0.0
        self.streams = 0

    @property
    def leader(self) -> int | None:
        return self.peer.sid

    def start(self, now: float) -> None:
        cfg = self.peer.config
        self.deadline = now + cfg.init_limit * cfg.tick
        self._advance(now)

    # ----- discovery and synchronization --------------------------------------------
    def _advance(self, now: float) -> None:
        """Move through DISCOVERY -> SYNC -> BROADCAST as far as quorums allow."""
        peer = self.peer
        if self.epoch < 0 and is_quorum(self.infos, peer.members):
            self.epoch = max(self.infos.values()) + 1
            peer.set_epochs(self.epoch, peer.current_epoch)
            self.epoch_acks.add(peer.sid)
            for sid in self.infos:
                if sid != peer.sid:
                    peer.send(sid, LeaderInfo(self.epoch))
        if self.phase == Phase.DISCOVERY and self.epoch >= 0 and is_quorum(self.epoch_acks, peer.members):
            self.phase = Phase.SYNC
            self.initial_last = peer.last_zxid
            for sid in sorted(self.epoch_acks - {peer.sid}):
                self._sync(sid)
        self._try_commit(now)

    def _on_follower_info(self, sender: int, msg: FollowerInfo, now: float) -> None:
        if 0 <= self.epoch < msg.accepted_epoch:
            # It promised a later epoch (to a leader attempt that failed) and can never
            # join this one: elect again, so that the next epoch is above its promise.
            self.peer.become_looking(now)
            return
        self.recs[sender] = FollowerRec(now, msg.accepted_epoch, msg.last_zxid)
        if self.epoch < 0:
            self.infos[sender] = msg.accepted_epoch
            self._advance(now)
        else:
            self.peer.send(sender, LeaderInfo(self.epoch))

    def _on_ack_epoch(self, sender: int, msg: AckEpoch, now: float) -> None:
        peer = self.peer
        rec = self.recs.get(sender)
        if rec is None or rec.synced or rec.stream is not None or rec.newleader_sent:
            return  # synchronizing already: the stream resends its own lost items
        if (msg.current_epoch, msg.last_zxid) > (peer.current_epoch, peer.last_zxid):
            peer.become_looking(now)  # a follower knows more history: elect again
            return
        rec.last_zxid = msg.last_zxid
        self.epoch_acks.add(sender)
        if self.phase == Phase.DISCOVERY:
            self._advance(now)
        else:
            self._sync(sender)

    def _sync(self, sid: int) -> None:
        """Start the stream that brings this follower to the leader's history."""
        peer = self.peer
        history = peer.history
        rec = self.recs[sid]
        f = rec.last_zxid
        mode, trunc, image, base = "DIFF", 0, None, f
        if not (f >= history.snap_zxid and history.contains(f)):
            floor = history.floor(f)
            if f > history.snap_zxid and floor > history.snap_zxid:
                mode, trunc, base = "TRUNC", floor, floor
            else:
                image = peer.snapshot_source()
                if not (history.snap_zxid <= image.zxid <= peer.last_zxid and history.contains(image.zxid)):
                    raise SafetyError(
                        f"snapshot_source gave zxid {image.zxid:#x}, which is not "
                        f"in this leader's history (log starts at {history.snap_zxid:#x})"
                    )
                mode, base = "SNAP", image.zxid
        self.streams += 1
        rec.stream = SyncStream(peer, sid, self.epoch, self.streams, mode, trunc, image, base)
        rec.newleader_sent, rec.synced, rec.acked = False, False, 0
        self._pump(sid, rec)

    def _pump(self, sid: int, rec: FollowerRec, ack: int | None = None, tick: bool = False) -> None:
        """Move a follower's stream on; once NEWLEADER is out it gets the broadcast too."""
        stream = rec.stream
        assert stream is not None
        try:
            if ack is not None:
                stream.on_ack(ack)
            elif tick:
                stream.on_tick()
            else:
                stream.pump()
        except HistoryCompactedError:
            # A snapshot here dropped proposals it still had to send: forget it; it
            # times out, rejoins and is sent the newer snapshot.
            del self.recs[sid]
            return
        if stream.end is not None and not rec.newleader_sent:
            rec.newleader_sent, rec.sync_last = True, stream.end[1]
        if stream.done:
            rec.stream = None  # releases the snapshot image

    def pinned(self) -> int | None:
        needs = [rec.stream.needs_after() for rec in self.recs.values() if rec.stream is not None]
        return min(needs) if needs else None

    # ----- broadcast ----------------------------------------------------------------
    def next_zxid(self) -> int:
        return make_zxid(self.epoch, self.counter + 1)

    def propose(self, data: bytes) -> int:
        zxid = self.next_zxid()
        self.counter += 1
        self.peer.append([(zxid, data)])
        self.pending.append((zxid, data))
        return zxid

    def flush(self) -> None:
        """Send what was proposed since the last flush, in messages of at most
        chunk_bytes (one proposal alone if it is larger)."""
        if not self.pending:
            return
        batches: list[list[Entry]] = [[]]
        size = 0
        for entry in self.pending:
            if batches[-1] and size + entry_size(entry) > self.peer.config.chunk_bytes:
                batches.append([])
                size = 0
            batches[-1].append(entry)
            size += entry_size(entry)
        for sid, rec in sorted(self.recs.items()):
            if rec.newleader_sent:
                for batch in batches:
                    self.peer.send(sid, Proposal(self.epoch, batch))
        self.pending = []

    def _on_ack(self, sender: int, msg: Ack, now: float) -> None:
        peer = self.peer
        rec = self.recs.get(sender)
        if rec is None or not rec.newleader_sent:
            return
        if msg.touches:
            peer.emit(act.SessionTouches(sender, list(msg.touches)))
        if msg.zxid < rec.sync_last:
            return
        rec.acked = max(rec.acked, msg.zxid)
        if not rec.synced:
            rec.synced, rec.stream = True, None
            if self.phase == Phase.BROADCAST:
                peer.send(sender, Ping(self.epoch, peer.commit_zxid, True))
        self._try_commit(now)

    def _try_commit(self, now: float) -> None:
        peer = self.peer
        synced = {sid: rec.acked for sid, rec in self.recs.items() if rec.synced}
        entering = False
        if self.phase == Phase.SYNC:
            if peer.persisted_zxid < self.initial_last:
                return  # its own initial history must be durable before anything else
            if peer.current_epoch != self.epoch:
                peer.set_epochs(self.epoch, self.epoch)  # see follower.py: why only now
            if not is_quorum(set(synced) | {peer.sid}, peer.members):
                return
            self.phase, entering = Phase.BROADCAST, True
            peer.set_serving(True)
        if self.phase != Phase.BROADCAST:
            return
        synced[peer.sid] = peer.persisted_zxid
        target = quorum_acked(synced, peer.members)
        if target > peer.commit_zxid:
            peer.commit_to(target)
            for sid, rec in sorted(self.recs.items()):
                if rec.newleader_sent and not entering:
                    peer.send(sid, Commit(self.epoch, peer.commit_zxid))
        if entering:  # UPTODATE to everyone already synchronized
            for sid, rec in sorted(self.recs.items()):
                if rec.newleader_sent:
                    peer.send(sid, Ping(self.epoch, peer.commit_zxid, rec.synced))

    def on_persisted(self, now: float) -> None:
        self._try_commit(now)

    # ----- events -------------------------------------------------------------------
    def on_notification(self, sender: int, msg: Notification, now: float) -> None:
        answer_looking(self.peer, sender, msg, LEADING, self.peer.sid)

    def on_message(self, sender: int, msg: Message, now: float) -> None:
        if isinstance(msg, FollowerInfo):
            self._on_follower_info(sender, msg, now)
            return
        if getattr(msg, "epoch", None) != self.epoch or sender not in self.recs:
            return
        self.recs[sender].last_heard = now
        if isinstance(msg, AckEpoch):
            self._on_ack_epoch(sender, msg, now)
        elif isinstance(msg, Ack):
            self._on_ack(sender, msg, now)
        elif isinstance(msg, SyncAck):
            rec = self.recs[sender]
            if rec.stream is not None and rec.stream.id == msg.stream:
                self._pump(sender, rec, ack=msg.next_seq)
        elif isinstance(msg, Request) and self.phase == Phase.BROADCAST:
            self.peer.emit(act.ForwardedRequest(sender, msg.payload))
        elif isinstance(msg, SyncRequest) and self.phase == Phase.BROADCAST:
            # Sent after every proposal up to last_zxid on the same FIFO link, so the
            # follower sees them all before it can answer the sync.
            self.peer.send(sender, SyncReply(self.epoch, msg.tag, self.peer.last_zxid))

    def on_tick(self, now: float) -> None:
        peer = self.peer
        cfg = peer.config
        if self.phase != Phase.BROADCAST and now > self.deadline:
            peer.become_looking(now)  # no quorum synchronized within initLimit
            return
        if self.phase == Phase.BROADCAST:
            horizon = now - cfg.sync_limit * cfg.tick
            alive = [sid for sid, rec in self.recs.items() if rec.synced and rec.last_heard >= horizon]
            if not is_quorum(alive + [peer.sid], peer.members):
                peer.become_looking(now)  # lost the quorum: stop serving, never commit again
                return
            for sid in [sid for sid, rec in self.recs.items() if rec.synced and rec.last_heard < horizon]:
                # Unheard for syncLimit (its acks, session touches and requests do not
                # arrive): stop pinging it, so it times out, stops serving and rejoins,
                # and its clients move to a member the leader hears.
                del self.recs[sid]
        stale = now - cfg.init_limit * cfg.tick
        for sid, rec in sorted(self.recs.items()):
            if rec.stream is None or rec.synced:
                continue
            if rec.last_heard < stale:
                del self.recs[sid]  # gone mid-sync: stop sending (it rejoins from scratch)
            else:
                self._pump(sid, rec, tick=True)
        serving = self.phase == Phase.BROADCAST
        for sid, rec in sorted(self.recs.items()):
            if rec.newleader_sent:  # heartbeat; also makes a follower re-send a lost ack
                peer.send(sid, Ping(self.epoch, peer.commit_zxid, serving and rec.synced))
        if serving:
            self._retransmit(now)

    def _retransmit(self, now: float) -> None:
        """Resend proposals to synced followers whose ack has not moved for a tick; if
        the first one it lacks is larger than a message (sent alone), only once its ack
        has not moved for syncLimit. Over TCP nothing is lost, and a proposal of tens of
        MiB (a closeSession listing every ephemeral of its session) takes seconds to
        cross, be decoded and fsynced on a loaded machine: resending it every tick
        queued a copy per tick ahead of the heartbeats on the same link, so the
        followers heard nothing for syncLimit and the ensemble churned (docs/zab.md,
        "Known problems"). Small ones keep the quick resend a lossy network needs."""
        peer = self.peer
        cfg = peer.config
        for sid, rec in sorted(self.recs.items()):
            if not rec.synced or rec.acked >= peer.last_zxid:
                rec.waiting_since = now
                continue
            stalled, rec.resend_mark = rec.acked == rec.resend_mark, rec.acked
            if not stalled:
                rec.waiting_since = now
                continue
            if rec.acked < peer.history.snap_zxid:
                del self.recs[sid]  # compacted away: it will time out and rejoin (SNAP)
                continue
            first = peer.history.batch_after(rec.acked, 0)
            if first and entry_size(first[0]) > cfg.chunk_bytes and now - rec.waiting_since < cfg.sync_limit * cfg.tick:
                continue
            after = rec.acked
            for _ in range(cfg.sync_window):  # up to a window of bounded batches
                batch = peer.history.batch_after(after, cfg.chunk_bytes)
                if not batch:
                    break
                peer.send(sid, Proposal(self.epoch, batch))
                after = batch[-1][0]
            rec.waiting_since = now
