"""One member of a group as the coordinator tracks it, and the choice of the group protocol.

A member is what its last JoinGroup said (timeouts, protocol type, the assignors it
supports with their subscription bytes), the assignment the leader gave it, the
request the coordinator still owes it an answer to (a parked JoinGroup or SyncGroup)
and the time its session runs out. Nothing here changes group state: the coordinator
does that; this module only answers questions about members.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass
class Member:
    member_id: str
    group_instance_id: str | None
    client_id: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: tuple[tuple[str, bytes], ...]
    heartbeat_deadline_ms: int
    assignment: bytes = b""
    join_request: int | None = None  # a JoinGroup parked until the join phase completes
    sync_request: int | None = None  # a SyncGroup parked until the leader's assignment is stored
    client_host: str = ""  # where its JoinGroup came from, for DescribeGroups

    @property
    def protocol_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.protocols)

    def metadata(self, protocol: str) -> bytes:
        """This member's subscription bytes for the chosen assignor."""
        for name, metadata in self.protocols:
            if name == protocol:
                return metadata
        raise KeyError(f"member {self.member_id} does not support protocol {protocol!r}")

    def has_pending_request(self) -> bool:
        """A member we owe an answer to is alive by definition: its request is parked here."""
        return self.join_request is not None or self.sync_request is not None


def common_protocols(members: Iterable[Member]) -> set[str]:
    """Assignor names every member supports; empty for no members."""
    common: set[str] | None = None
    for m in members:
        names = set(m.protocol_names)
        common = names if common is None else common & names
    return common or set()


def select_protocol(members: list[Member]) -> str:
    """Kafka's vote: each member names its most preferred assignor among the common ones;
    the most votes win, ties going to the earliest-joined member's preference order, so
    the choice is deterministic."""
    candidates = common_protocols(members)
    if not candidates:
        raise ValueError("no assignor is supported by every member")
    votes: dict[str, int] = {}
    for m in members:
        choice = next(name for name in m.protocol_names if name in candidates)
        votes[choice] = votes.get(choice, 0) + 1
    order = [name for name in members[0].protocol_names if name in candidates]
    return max(order, key=lambda name: (votes.get(name, 0), -order.index(name)))
