"""One partition's verdict in an ElectLeaders request (KIP-460), as a pure function.

PREFERRED gives leadership to the first assigned replica when it is alive and in sync;
UNCLEAN gives a leaderless partition a leader, from the live ISR if it can, else from any
live replica (the operator asked for the data loss that may bring). A partition whose
request changes nothing is told why: ELECTION_NOT_NEEDED (already led as asked),
PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE. This module must never
talk to coord or brokers: the controller writes the new states it returns.
"""

from __future__ import annotations

from broker.metadata.election import NO_LEADER, offline_election, preferred_election
from broker.metadata.znodes import PartitionState
from broker.refusal import ErrorReply
from client.protocol.errors import ErrorCode

PREFERRED, UNCLEAN = 0, 1  # ElectLeaders election_type


def requested_election(
    election_type: int, replicas: list[int], state: PartitionState, live: set[int], controller_epoch: int
) -> tuple[PartitionState | None, ErrorReply | None]:
    """(the new state to write or None, why nothing changes or None)."""
    if election_type == PREFERRED:
        preferred = replicas[0]
        if state.leader == preferred:
            return None, (ErrorCode.ELECTION_NOT_NEEDED, f"broker {preferred}, the preferred replica, already leads")
        new = preferred_election(replicas, state, live, controller_epoch)
        if new is None:
            return None, (
                ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE,
                f"the preferred replica, broker {preferred}, is not live and in sync (isr {list(state.isr)})",
            )
        return new, None
    if election_type == UNCLEAN:
        if state.leader in live:
            return None, (ErrorCode.ELECTION_NOT_NEEDED, f"broker {state.leader} leads; no election is needed")
        new = offline_election(replicas, state, live, controller_epoch, unclean=True)
        if new is None or new.leader == NO_LEADER:
            return None, (ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE, f"no replica of {replicas} is live")
        return new, None
    return None, (ErrorCode.INVALID_REQUEST, f"election type {election_type} is not 0 (preferred) or 1 (unclean)")
