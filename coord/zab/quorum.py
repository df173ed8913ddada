"""Majority arithmetic for a static ensemble; the only place that knows what a quorum is.

It must never learn about roles or messages: it answers "is this set a quorum" and
"which zxid has a quorum acked", nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def quorum_size(members: int) -> int:
    """Smallest majority of `members` servers (2 of 3, 3 of 4, 3 of 5)."""
    return members // 2 + 1


def is_quorum(voters: Iterable[int], members: frozenset[int]) -> bool:
    """True when the ensemble members among `voters` form a majority."""
    return len(members.intersection(voters)) >= quorum_size(len(members))


def quorum_acked(acks: Mapping[int, int], members: frozenset[int]) -> int:
    """Highest zxid that a majority of members has acknowledged (0 if none).

    Acks are cumulative (an ack of z means everything up to z is durable on that
    server), so the answer is the quorum-th largest ack.
    """
    values = sorted((acks.get(sid, 0) for sid in members), reverse=True)
    return values[quorum_size(len(members)) - 1]
