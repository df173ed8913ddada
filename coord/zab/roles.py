"""The role interface every ZAB role implements, and the role names.

Rule: a role method that hands control to another role (through `Peer.become_*`)
returns immediately afterwards and touches nothing else, because it is no longer the
peer's role. This module must never hold role logic itself.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Protocol

from coord.zab.actions import Action
from coord.zab.config import ZabConfig
from coord.zab.log import History, SnapshotImage
from coord.zab.messages import Entry, Message, Notification


class Role(str, enum.Enum):
    LOOKING = "looking"
    FOLLOWING = "following"
    LEADING = "leading"


class PeerView(Protocol):
    """What a role reads and calls on its peer (`coord.zab.peer.Peer`): the peer's durable
    and volatile state, its outbox, and the switches to the other roles."""

    sid: int
    members: frozenset[int]
    config: ZabConfig
    snapshot_source: Callable[[], SnapshotImage]
    accepted_epoch: int
    current_epoch: int
    history: History
    persisted_zxid: int
    commit_zxid: int
    round: int

    @property
    def last_zxid(self) -> int: ...
    def own_vote(self) -> tuple[int, int, int]: ...
    def emit(self, action: Action) -> None: ...
    def send(self, to: int, msg: Message) -> None: ...
    def broadcast(self, msg: Message) -> None: ...
    def set_epochs(self, accepted: int, current: int) -> None: ...
    def append(self, entries: list[Entry]) -> None: ...
    def truncate(self, zxid: int) -> None: ...
    def install_snapshot(self, zxid: int, size: int) -> None: ...
    def commit_to(self, zxid: int) -> None: ...
    def set_serving(self, on: bool) -> None: ...
    def become_looking(self, now: float) -> None: ...
    def become_following(self, leader: int, now: float) -> None: ...
    def become_leading(self, now: float) -> None: ...


class RoleState:
    """Base of Looking / Following / Leading: one step function per event kind."""

    role: Role

    def __init__(self, peer: PeerView) -> None:
        self.peer = peer

    @property
    def leader(self) -> int | None:
        return None

    def start(self, now: float) -> None:
        """Called once, right after the peer switched to this role."""

    def on_tick(self, now: float) -> None:
        """A timer tick: timeouts, heartbeats, retransmissions."""

    def on_notification(self, sender: int, msg: Notification, now: float) -> None:
        """An election vote arrived."""

    def on_message(self, sender: int, msg: Message, now: float) -> None:
        """Any other peer message arrived."""

    def on_link_lost(self, sid: int, now: float) -> None:
        """The shell saw the connection from `sid` close (a crash, a cut link)."""

    def on_persisted(self, now: float) -> None:
        """The shell finished an fsync; `peer.persisted_zxid` moved."""

    def pinned(self) -> int | None:
        """The lowest zxid after which this role still needs the logged entries (a sync
        stream under way), so a compaction keeps them; None if it needs none."""
        return None

    def flush(self) -> None:
        """End of a batch of events: send what was buffered (batched proposals)."""
