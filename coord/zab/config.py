"""ZAB's timing settings, shared by the peer and its roles.

This module must never hold behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ZabConfig:
    """Timing in the shell's time unit (the simulator and server use seconds)."""
    tick: float = 0.1
    init_limit: int = 10      # ticks a new leader/follower may spend before serving
    sync_limit: int = 5       # ticks without hearing the other side before giving up
    election_retry: int = 2   # ticks between re-sends of an unanswered vote
    max_batch: int = 256      # entries per PROPOSAL message on retransmission
