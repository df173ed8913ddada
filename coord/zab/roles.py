"""The role interface every ZAB role implements, and the role names.

Rule: a role method that hands control to another role (through `Peer.become_*`)
returns immediately afterwards and touches nothing else, because it is no longer the
peer's role. This module must never hold role logic itself.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from coord.zab.messages import Message, Notification

if TYPE_CHECKING:
    from coord.zab.peer import Peer


class Role(str, enum.Enum):
    LOOKING = "looking"
    FOLLOWING = "following"
    LEADING = "leading"


class RoleState:
    """Base of Looking / Following / Leading: one step function per event kind."""

    role: Role

    def __init__(self, peer: Peer) -> None:
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

    def flush(self) -> None:
        """End of a batch of events: send what was buffered (batched proposals)."""
