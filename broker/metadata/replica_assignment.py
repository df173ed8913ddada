"""Checks on replica assignments that a client gives (CreateTopics and CreatePartitions
`assignments`), as pure functions returning an error code and message.

Kafka's rules: every partition is listed once, numbered contiguously (from 0 for a new
topic, from the current count for added partitions); every partition has the same number
of replicas (for added partitions, the topic's replication factor); a partition's replicas
are distinct and name live brokers. This module must never talk to coord or the log: it
only judges a request, and the controller writes what passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from broker.refusal import ErrorReply
from client.protocol.errors import ErrorCode

Assignment = dict[int, list[int]]


def _bad(message: str) -> ErrorReply:
    return ErrorCode.INVALID_REPLICA_ASSIGNMENT, message


def _check_replicas(partition: int, replicas: Sequence[int], live: set[int], factor: int | None) -> ErrorReply | None:
    if not replicas:
        return _bad(f"partition {partition} has an empty replica list")
    if len(set(replicas)) != len(replicas):
        return _bad(f"partition {partition} names a broker twice: {list(replicas)}")
    if factor is not None and len(replicas) != factor:
        return _bad(
            f"partition {partition} has {len(replicas)} replica(s) but the others have {factor}: "
            "every partition needs the same replication factor"
        )
    unknown = sorted(set(replicas) - live)
    if unknown:
        return _bad(
            f"partition {partition} names broker(s) {unknown}, which are not live brokers (live: {sorted(live)})"
        )
    return None


def check_topic_assignment(
    num_partitions: int, replication_factor: int, given: Iterable[tuple[int, Sequence[int]]], live: set[int]
) -> Assignment | ErrorReply:
    """CreateTopics' manual assignment as partition -> replicas, or why it is refused.

    With an assignment the request must leave num_partitions and replication_factor at -1."""
    if num_partitions != -1 or replication_factor != -1:
        return (
            ErrorCode.INVALID_REQUEST,
            "give either num_partitions and replication_factor or a replica "
            "assignment, not both (leave them at -1 with an assignment)",
        )
    out: Assignment = {}
    for partition, replicas in given:
        if partition in out:
            return _bad(f"partition {partition} is assigned twice")
        out[partition] = list(replicas)
    if sorted(out) != list(range(len(out))):
        return _bad(f"partitions must be numbered 0 to {len(out) - 1} without gaps, not {sorted(out)}")
    factor = len(out[0])
    for partition, replicas in sorted(out.items()):
        refusal = _check_replicas(partition, replicas, live, factor)
        if refusal:
            return refusal
    return out


def check_added_assignment(
    current: int, count: int, factor: int, given: Sequence[Sequence[int]], live: set[int]
) -> list[list[int]] | ErrorReply:
    """CreatePartitions' assignment of the partitions `current` .. `count`-1 (one replica list
    each, in partition order), or why it is refused."""
    if count <= current:
        return (
            ErrorCode.INVALID_PARTITIONS,
            f"the topic has {current} partition(s); the count can only grow, not to {count}",
        )
    if len(given) != count - current:
        return _bad(f"{count - current} partition(s) are added but {len(given)} assignment(s) were given")
    for i, replicas in enumerate(given):
        refusal = _check_replicas(current + i, replicas, live, factor)
        if refusal:
            return refusal
    return [list(r) for r in given]
