"""ZAB's timing settings, shared by the peer and its roles.

This module must never hold behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ZabConfig:
    """Timing in the shell's time unit (the simulator and server use seconds)."""

    tick: float = 0.1
    init_limit: int = 10  # a new leader's ticks to serve; a follower's ticks of silence before it serves
    sync_limit: int = 5  # ticks without hearing the other side, once serving, before giving up
    election_retry: int = 2  # ticks between re-sends of an unanswered vote
    chunk_bytes: int = 1 << 20  # bound of one snapshot chunk, diff batch or PROPOSAL message
    sync_window: int = 8  # sync stream items in flight to one follower (flow control)
