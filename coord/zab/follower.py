"""The FOLLOWING role: discovery, synchronization and broadcast, follower side.

Phases: DISCOVERY (FOLLOWERINFO sent, waiting for LEADERINFO) -> SYNC (ACKEPOCH sent,
then the leader's stream taken item by item in order: header, snapshot chunks staged
and installed once whole, diff batches logged, NEWLEADER; each item acked with SYNCACK,
and a big snapshot may take longer than initLimit as long as it keeps moving) -> SYNCED
(history replaced by the leader's, acks flowing) -> BROADCAST (UPTODATE seen: serving
clients). Only messages from the chosen leader in the accepted epoch are looked at, so
a follower never acks a proposal from an epoch older than its acceptedEpoch.
currentEpoch becomes the new epoch only once the synchronized history is durable (then
NEWLEADER is acked), because elections rank servers by (currentEpoch, last zxid).
Proposals are taken strictly in zxid order (a gap waits for the leader's
retransmission); acks are cumulative and sent only for durable entries. Silence from
the leader (`on_tick`: initLimit ticks before serving, syncLimit once serving) sends the
follower back to LOOKING. This module must never ack what is not fsynced or apply what
the leader has not committed.
"""

from __future__ import annotations

import enum

from coord.zab import actions as act
from coord.zab.election import answer_looking
from coord.zab.errors import NotLeaderError, SafetyError
from coord.zab.log import epoch_of, make_zxid
from coord.zab.messages import (
    FOLLOWING,
    Ack,
    AckEpoch,
    Commit,
    Entry,
    FollowerInfo,
    LeaderInfo,
    Message,
    NewLeader,
    Notification,
    Ping,
    Proposal,
    Request,
    SnapChunk,
    SyncAck,
    SyncDiff,
    SyncHeader,
    SyncReply,
    SyncRequest,
)
from coord.zab.roles import PeerView, Role, RoleState


class Phase(enum.IntEnum):
    DISCOVERY = 0
    SYNC = 1
    SYNCED = 2
    BROADCAST = 3


class Following(RoleState):
    role = Role.FOLLOWING

    def __init__(self, peer: PeerView, leader: int) -> None:
        super().__init__(peer)
        self._leader = leader
        self.phase = Phase.DISCOVERY
        self.epoch = -1
        self.sync_last = 0
        self.touches: list[int] = []
        self.last_heard = 0.0
        self.stream: int | None = None  # the leader's sync stream being taken
        self.next_seq = 0
        self.snap: tuple[int, int] | None = None  # (zxid, size) of the snapshot coming
        self.staged = 0
        self.mode = "DIFF"
        self.early: dict[int, SyncHeader | SnapChunk | SyncDiff | NewLeader] = {}

    @property
    def leader(self) -> int | None:
        return self._leader

    def start(self, now: float) -> None:
        self.last_heard = now
        self._hello()

    def _hello(self) -> None:
        peer = self.peer
        if self.phase == Phase.DISCOVERY:
            peer.send(self._leader, FollowerInfo(peer.accepted_epoch, peer.last_zxid))
        elif self.phase == Phase.SYNC:
            if self.stream is None:
                peer.send(self._leader, AckEpoch(self.epoch, peer.current_epoch, peer.last_zxid))
            else:
                peer.send(self._leader, SyncAck(self.epoch, self.stream, self.next_seq))

    def on_tick(self, now: float) -> None:
        """Give up on a leader silent for too long, counted from the last message heard
        from it (any message: a stream item, a duplicate, a ping), as a ZooKeeper
        learner's socket read timeout is. Before serving the limit is initLimit, as the
        learner's is while it connects and syncs: the leader's stream resends a lost item
        only after syncLimit ticks without progress, and waits on a quorum before
        UPTODATE, so a syncing follower that gave up after syncLimit raced those waits
        and, over a lossy network, could keep restarting its sync. Once serving it is
        syncLimit. There is no total bound on a sync: a snapshot that keeps moving may
        take longer than initLimit (the leader bounds its own wait for a quorum)."""
        cfg = self.peer.config
        limit = cfg.sync_limit if self.phase == Phase.BROADCAST else cfg.init_limit
        if now - self.last_heard > limit * cfg.tick:
            self.peer.become_looking(now)
        else:
            self._hello()

    def on_notification(self, sender: int, msg: Notification, now: float) -> None:
        if sender == self._leader and msg.state == FOLLOWING:
            self.peer.become_looking(now)  # it follows someone else: it will never lead us
            return
        answer_looking(self.peer, sender, msg, FOLLOWING, self._leader)

    def on_message(self, sender: int, msg: Message, now: float) -> None:
        if sender != self._leader:
            return
        if isinstance(msg, LeaderInfo):
            self.last_heard = now
            self._on_leader_info(msg, now)
            return
        if getattr(msg, "epoch", None) != self.epoch:
            return
        self.last_heard = now
        if isinstance(msg, SyncHeader | SnapChunk | SyncDiff | NewLeader):
            self._on_stream_item(msg, now)
        elif self.phase < Phase.SYNCED:
            return
        elif isinstance(msg, Proposal):
            self._on_proposal(msg.entries)
        elif isinstance(msg, Commit):
            self.peer.commit_to(msg.zxid)
        elif isinstance(msg, Ping):
            self._on_ping(msg)
        elif isinstance(msg, SyncReply):
            self.peer.emit(act.SyncReady(msg.tag, msg.zxid))

    def on_link_lost(self, sid: int, now: float) -> None:
        # A leader whose process died closes its links at once; waiting syncLimit ticks
        # of silence would only stretch the outage. Elect again now.
        if sid == self._leader:
            self.peer.become_looking(now)

    def _on_leader_info(self, msg: LeaderInfo, now: float) -> None:
        peer = self.peer
        if self.phase != Phase.DISCOVERY:
            return
        if msg.epoch < peer.accepted_epoch:
            peer.become_looking(now)  # a leader from the past: elect again
            return
        if msg.epoch > peer.accepted_epoch:
            peer.set_epochs(msg.epoch, peer.current_epoch)
        self.epoch = msg.epoch
        self.phase = Phase.SYNC
        self._hello()

    def _on_stream_item(self, msg: SyncHeader | SnapChunk | SyncDiff | NewLeader, now: float) -> None:
        peer = self.peer
        if self.phase != Phase.SYNC:
            return
        if self.stream is None and isinstance(msg, SyncHeader):
            self.stream = msg.stream
        elif msg.stream != self.stream:
            if self.stream is not None:
                # A second stream in one sync: the leader started over from what it
                # knew of us before the first; only a fresh start is safe.
                peer.become_looking(now)
            return
        seq = 0 if isinstance(msg, SyncHeader) else msg.seq
        if self.next_seq < seq < self.next_seq + peer.config.sync_window:
            self.early[seq] = msg  # overtook an earlier item (not over TCP; in the simulator)
            return
        if seq != self.next_seq:
            return  # a duplicate, or beyond the window: the leader resends from next_seq
        self._take(msg)
        while self.phase == Phase.SYNC and self.next_seq in self.early:
            self._take(self.early.pop(self.next_seq))

    def _take(self, msg: SyncHeader | SnapChunk | SyncDiff | NewLeader) -> None:
        """The stream's next item, in order."""
        peer = self.peer
        self.next_seq += 1
        if isinstance(msg, SyncHeader):
            self._on_header(msg)
        elif isinstance(msg, SnapChunk):
            self._on_chunk(msg)
        elif isinstance(msg, SyncDiff):
            if self.snap is not None:
                raise SafetyError("diff proposals before the whole snapshot arrived")
            fresh = [e for e in msg.entries if e[0] > peer.last_zxid]
            if len(fresh) != len(msg.entries) and self.mode != "DIFF":
                raise SafetyError("diff proposals overlap the synchronized history")
            peer.append(fresh)
        peer.send(self._leader, SyncAck(self.epoch, msg.stream, self.next_seq))  # msg.stream is self.stream
        if isinstance(msg, NewLeader):
            if self.snap is not None or peer.last_zxid != msg.last_zxid:
                raise SafetyError(f"NEWLEADER at {msg.last_zxid:#x}, but this history ends at {peer.last_zxid:#x}")
            peer.commit_to(msg.commit_zxid)
            self.sync_last = peer.last_zxid
            self.phase = Phase.SYNCED
            self._ack()

    def _on_header(self, msg: SyncHeader) -> None:
        peer = self.peer
        self.mode = msg.mode
        if msg.mode == "SNAP":
            self.snap, self.staged = (msg.snap_zxid, msg.snap_size), 0
        elif msg.mode == "TRUNC":
            if not peer.history.contains(msg.trunc_zxid):
                raise SafetyError(f"TRUNC to {msg.trunc_zxid:#x}, which is not in this history")
            peer.truncate(msg.trunc_zxid)

    def _on_chunk(self, msg: SnapChunk) -> None:
        if self.snap is None or msg.offset != self.staged:
            raise SafetyError(f"snapshot chunk at byte {msg.offset}, expected {self.staged}")
        zxid, size = self.snap
        self.peer.emit(act.StageSnapshot(zxid, msg.offset, msg.data))
        self.staged += len(msg.data)
        if self.staged > size:
            raise SafetyError(f"snapshot chunks run past its {size} bytes")
        if self.staged == size:
            self.snap = None
            self.peer.install_snapshot(zxid, size)

    def _on_proposal(self, entries: list[Entry]) -> None:
        peer = self.peer
        accepted: list[Entry] = []
        last = peer.last_zxid
        for zxid, data in entries:
            if zxid <= last:
                continue  # duplicate: already logged
            expected = last + 1 if epoch_of(last) == self.epoch else make_zxid(self.epoch, 1)
            if zxid != expected:
                break  # gap: wait for the leader to retransmit
            accepted.append((zxid, data))
            last = zxid
        peer.append(accepted)

    def _on_ping(self, msg: Ping) -> None:
        self.peer.commit_to(msg.commit_zxid)
        if msg.uptodate and self.phase == Phase.SYNCED and self.peer.persisted_zxid >= self.sync_last:
            self.phase = Phase.BROADCAST
            self.peer.set_serving(True)
        self._ack()

    def on_persisted(self, now: float) -> None:
        self._ack()

    def _ack(self) -> None:
        peer = self.peer
        if self.phase >= Phase.SYNCED and peer.persisted_zxid >= self.sync_last:
            if peer.current_epoch != self.epoch:
                # Only now: a durable currentEpoch promises the whole initial history of
                # the epoch is durable here too (elections rank servers by it).
                peer.set_epochs(peer.accepted_epoch, self.epoch)
            peer.send(self._leader, Ack(self.epoch, peer.persisted_zxid, self.touches))
            self.touches = []

    def forward(self, payload: bytes) -> None:
        if self.phase != Phase.BROADCAST:
            raise NotLeaderError(self._leader, "this follower is still synchronizing")
        self.peer.send(self._leader, Request(self.epoch, payload))

    def sync(self, tag: int) -> None:
        if self.phase != Phase.BROADCAST:
            raise NotLeaderError(self._leader, "this follower is still synchronizing")
        self.peer.send(self._leader, SyncRequest(self.epoch, tag))
