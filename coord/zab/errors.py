"""Typed errors of the ZAB core. Kept apart so every role module can raise them."""

from __future__ import annotations


class NotLeaderError(Exception):
    """This member cannot take the request; `leader` says where to go (None: unknown)."""

    def __init__(self, leader: int | None, why: str) -> None:
        super().__init__(f"{why}; current leader: {leader if leader is not None else 'unknown'}")
        self.leader = leader


class SafetyError(AssertionError):
    """The protocol was asked to break one of its invariants: a bug, never bad input."""
