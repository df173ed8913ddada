"""One ensemble member's ZAB state: the object the shell drives (etcd-raft style).

Inputs: `tick(now)`, `receive(sender, msg, now)`, `propose(data, now)` (leader),
`forward(payload, now)` / `sync(tag, now)` / `touch(sessions)` (follower),
`link_lost(sid, now)` (a peer's connection closed), `persisted(zxid, now)` (an fsync
finished), `compact(zxid)` (a snapshot now covers the log up to zxid). Output:
`ready()`, the ordered list of actions (see coord.zab.actions for the contract).

State common to all roles lives here (epochs, history, commit and apply positions);
each role's step functions live in election.py, follower.py and leader.py. This module
must never read a clock, touch a socket or a file, or apply anything that is not
committed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from coord.zab import actions as act
from coord.zab.config import ZabConfig
from coord.zab.election import Looking
from coord.zab.errors import NotLeaderError, SafetyError
from coord.zab.follower import Following
from coord.zab.leader import Leading
from coord.zab.log import History, SnapshotImage
from coord.zab.messages import Entry, Message, Notification
from coord.zab.roles import Role, RoleState


@dataclass
class PersistentState:
    """What survives a crash, as recovered by the shell from its disk."""

    accepted_epoch: int = 0
    current_epoch: int = 0
    snap_zxid: int = 0
    entries: list[Entry] = field(default_factory=list)


class Peer:
    def __init__(
        self,
        sid: int,
        members: frozenset[int],
        config: ZabConfig,
        state: PersistentState,
        snapshot_source: Callable[[], SnapshotImage],
        now: float,
    ) -> None:
        if sid not in members:
            raise ValueError(f"server id {sid} is not in the ensemble {sorted(members)}")
        self.sid = sid
        self.members = members
        self.config = config
        self.snapshot_source = snapshot_source
        self.accepted_epoch = state.accepted_epoch
        self.current_epoch = state.current_epoch
        self.history = History(state.snap_zxid, state.entries)
        self.persisted_zxid = self.history.last_zxid
        self.commit_zxid = state.snap_zxid
        self.applied_zxid = state.snap_zxid
        self.round = 0
        self.serving = False
        self.now = now
        self._outbox: list[act.Action] = []
        self.role: RoleState = Looking(self)
        self.role.start(now)

    # ----- inputs -------------------------------------------------------------------
    def tick(self, now: float) -> None:
        self.now = now
        self.role.on_tick(now)

    def receive(self, sender: int, msg: Message, now: float) -> None:
        self.now = now
        if sender == self.sid or sender not in self.members:
            return
        if isinstance(msg, Notification):
            self.role.on_notification(sender, msg, now)
        else:
            self.role.on_message(sender, msg, now)

    def propose(self, data: bytes, now: float) -> int:
        """Leader only: order `data`; returns its zxid. Otherwise NotLeaderError."""
        self.now = now
        if not isinstance(self.role, Leading) or not self.serving:
            raise NotLeaderError(self.role.leader, f"server {self.sid} is not a serving leader")
        return self.role.propose(data)

    def next_zxid(self) -> int:
        """Leader only: the zxid the next `propose` will get, so the shell can prepare a
        txn that embeds it (czxid, mzxid) before proposing it in the same step."""
        if not isinstance(self.role, Leading) or not self.serving:
            raise NotLeaderError(self.role.leader, f"server {self.sid} is not a serving leader")
        return self.role.next_zxid()

    def forward(self, payload: bytes, now: float) -> None:
        """Follower only: send a client write to the leader (ForwardedRequest there)."""
        self.now = now
        if not isinstance(self.role, Following) or not self.serving:
            raise NotLeaderError(self.role.leader, f"server {self.sid} is not a serving follower")
        self.role.forward(payload)

    def sync(self, tag: int, now: float) -> None:
        """Follower only: ask the leader how far it has proposed (SyncReady comes back)."""
        self.now = now
        if not isinstance(self.role, Following) or not self.serving:
            raise NotLeaderError(self.role.leader, f"server {self.sid} is not a serving follower")
        self.role.sync(tag)

    def link_lost(self, sid: int, now: float) -> None:
        """The shell saw the link from `sid` close; only a hint, never needed for safety."""
        self.now = now
        self.role.on_link_lost(sid, now)

    def touch(self, sessions: list[int]) -> None:
        """Follower: report client sessions alive here with the next ack to the leader."""
        if isinstance(self.role, Following):
            self.role.touches.extend(sessions)

    def persisted(self, zxid: int, now: float) -> None:
        """The shell's fsync covering everything up to zxid finished."""
        self.now = now
        new = min(zxid, self.history.last_zxid)
        if new > self.persisted_zxid:
            self.persisted_zxid = new
            self.role.on_persisted(now)

    def compact(self, zxid: int) -> None:
        """The shell holds a durable snapshot at zxid (<= applied): forget the log below,
        except what a sync stream still has to send."""
        if zxid > self.applied_zxid:
            raise SafetyError(f"snapshot at {zxid:#x} is beyond applied {self.applied_zxid:#x}")
        pinned = self.role.pinned()
        # A follower's sync stream still sends entries from `pinned` on: keep them
        # (the next snapshot's compaction drops them once it is done).
        self.history.compact(zxid if pinned is None else min(zxid, pinned))

    def ready(self) -> list[act.Action]:
        self.role.flush()
        out, self._outbox = self._outbox, []
        return out

    # ----- read-only views ----------------------------------------------------------
    @property
    def state(self) -> Role:
        return self.role.role

    @property
    def leader(self) -> int | None:
        return self.role.leader

    @property
    def last_zxid(self) -> int:
        return self.history.last_zxid

    def own_vote(self) -> tuple[int, int, int]:
        """Candidates are ordered by (current epoch, last zxid, server id)."""
        return (self.current_epoch, self.history.last_zxid, self.sid)

    # ----- helpers for the roles ----------------------------------------------------
    def emit(self, action: act.Action) -> None:
        self._outbox.append(action)

    def send(self, to: int, msg: Message) -> None:
        self._outbox.append(act.Send(to, msg))

    def broadcast(self, msg: Message) -> None:
        for sid in sorted(self.members):
            if sid != self.sid:
                self.send(sid, msg)

    def set_epochs(self, accepted: int, current: int) -> None:
        if accepted < self.accepted_epoch or current < self.current_epoch:
            raise SafetyError("epochs never go backwards")
        self.accepted_epoch, self.current_epoch = accepted, current
        self.emit(act.PersistEpochs(accepted, current))

    def append(self, entries: list[Entry]) -> None:
        for zxid, data in entries:
            self.history.append(zxid, data)
        if entries:
            self.emit(act.AppendLog(entries))

    def truncate(self, zxid: int) -> None:
        if zxid < self.commit_zxid:
            raise SafetyError(f"TRUNC to {zxid:#x} would drop committed {self.commit_zxid:#x}")
        self.history.truncate(zxid)
        self.persisted_zxid = min(self.persisted_zxid, zxid)
        self.emit(act.TruncateLog(zxid))

    def install_snapshot(self, zxid: int, size: int) -> None:
        """The staged snapshot (`size` bytes at zxid) replaces state and history."""
        if zxid < self.commit_zxid:
            raise SafetyError(f"SNAP at {zxid:#x} is behind committed {self.commit_zxid:#x}")
        self.history.reset(zxid)
        self.persisted_zxid = self.commit_zxid = self.applied_zxid = zxid
        self.emit(act.InstallSnapshot(zxid, size))

    def commit_to(self, zxid: int) -> None:
        """Mark committed up to zxid (clipped to what is logged here) and apply in order."""
        target = min(zxid, self.history.last_zxid)
        if target <= self.commit_zxid:
            return
        self.commit_zxid = target
        for z, data in self.history.between(self.applied_zxid, target):
            self.emit(act.Apply(z, data))
        self.applied_zxid = target

    def set_serving(self, on: bool) -> None:
        if on != self.serving:
            self.serving = on
            self.emit(act.Serving(on))

    def become_looking(self, now: float) -> None:
        self._switch(Looking(self), now)

    def become_following(self, leader: int, now: float) -> None:
        self._switch(Following(self, leader), now)

    def become_leading(self, now: float) -> None:
        self._switch(Leading(self), now)

    def _switch(self, role: RoleState, now: float) -> None:
        self.set_serving(False)
        self.role = role
        self.emit(act.RoleChanged(role.role.value, self.current_epoch, role.leader))
        role.start(now)
