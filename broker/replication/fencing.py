"""Leader-epoch fencing: the one rule for every request that names the leader epoch it expects.

A follower's fetch and OffsetsForLeaderEpoch query, a consumer's fetch (v9+), its
OffsetsForLeaderEpoch validation (KIP-320) and ListOffsets all carry the leader epoch
their sender believes current (KIP-320's `current_leader_epoch`). The replication core
and the request handlers ask `epoch_refusal` whether to serve such a request, so a
follower and a consumer are fenced by the same rule. Produce names no epoch and is not
checked. It must never look anything up or perform I/O: the caller passes the replica's
epoch and whether it leads.
"""

from __future__ import annotations

from broker.replication.messages import ErrorCode


def epoch_refusal(expected: int | None, current: int, *, leading: bool) -> ErrorCode | None:
    """Why a request expecting leader epoch `expected` must be refused by a replica at
    `current`, or None to serve it.

    FENCED_LEADER_EPOCH: the sender is behind (it missed a leader change; it refreshes its
    metadata). UNKNOWN_LEADER_EPOCH: the sender is ahead (this replica has not heard of
    the new epoch yet; the sender retries). At the current epoch, a replica that does not
    lead answers NOT_LEADER_OR_FOLLOWER. `expected` None: the sender named no epoch (-1 on
    the wire), so only leadership is checked.
    """
    if expected is not None and expected < current:
        return ErrorCode.FENCED_LEADER_EPOCH
    if expected is not None and expected > current:
        return ErrorCode.UNKNOWN_LEADER_EPOCH
    return None if leading else ErrorCode.NOT_LEADER_OR_FOLLOWER
