"""Partition leader elections as pure functions: old state in, new state (or None) out.

Kafka's rules (kafka-reference.md 4): a leader is chosen from the live in-sync replicas
in assignment order, so the preferred replica (the first assigned) wins when it can;
the leader epoch is bumped whenever the leader changes; the ISR never becomes empty
(with no live ISR member the partition goes offline, leader -1, and keeps its last
ISR so the replica that has every acknowledged record is the one that can come back);
unclean election (a live replica outside the ISR) only when the topic allows it.
`None` means "no change". This module must never talk to coord or brokers.
"""

from __future__ import annotations

from broker.metadata.znodes import PartitionState

NO_LEADER = -1


def _new(state: PartitionState, leader: int, isr: tuple[int, ...], controller_epoch: int) -> PartitionState:
    epoch = state.leader_epoch + 1 if leader != state.leader else state.leader_epoch
    return PartitionState(leader, epoch, isr, controller_epoch)


def offline_election(
    replicas: list[int], state: PartitionState, live: set[int], controller_epoch: int, *, unclean: bool = False
) -> PartitionState | None:
    """After brokers died (or came back): drop dead replicas from the ISR, and give the
    partition a live leader if it lacks one."""
    live_isr = tuple(r for r in state.isr if r in live)
    if state.leader in live:
        if live_isr == state.isr:
            return None
        return _new(state, state.leader, live_isr, controller_epoch)
    candidates = [r for r in replicas if r in live_isr]
    if candidates:
        return _new(state, candidates[0], live_isr, controller_epoch)
    if unclean:
        anyone = [r for r in replicas if r in live]
        if anyone:
            return _new(state, anyone[0], (anyone[0],), controller_epoch)
    if state.leader == NO_LEADER:
        return None
    return _new(state, NO_LEADER, state.isr, controller_epoch)


def shutdown_election(
    replicas: list[int], state: PartitionState, live: set[int], leaving: int, controller_epoch: int
) -> PartitionState | None:
    """Controlled shutdown of `leaving`: move its leadership to another live ISR member and
    take it out of the ISR, unless it is the last one (then the partition stays put)."""
    rest = tuple(r for r in state.isr if r != leaving and r in live)
    if leaving not in state.isr or not rest:
        return None
    leader = state.leader
    if leader == leaving or leader not in live:
        leader = next(r for r in replicas if r in rest)
    return _new(state, leader, rest, controller_epoch)


def preferred_election(
    replicas: list[int], state: PartitionState, live: set[int], controller_epoch: int
) -> PartitionState | None:
    """Give leadership back to the preferred replica when it is alive and in sync."""
    preferred = replicas[0]
    if state.leader == preferred or preferred not in live or preferred not in state.isr:
        return None
    return _new(state, preferred, state.isr, controller_epoch)
