"""Helpers for running `ZabNode` ensembles in one process (tests and the perf script).

It must never sleep without a bound: every wait gives up with an AssertionError.
"""

from __future__ import annotations

import msgpack

from coord.zab import Role, Snapshot, ZabConfig
from coord.zab.node import ZabNode
from tests.support.ports import free_ports
from tests.support.waiting import wait_until_async

CONFIG = ZabConfig(tick=0.05, init_limit=20, sync_limit=6, election_retry=2)


class ListMachine:
    """The replicated state: the list of applied txns (its own snapshot)."""

    def __init__(self) -> None:
        self.applied: list[tuple[int, bytes]] = []

    def apply(self, zxid: int, data: bytes) -> None:
        self.applied.append((zxid, data))

    def restore(self, zxid: int, data: bytes) -> None:
        self.applied = [(z, d) for z, d in msgpack.unpackb(data)]

    def snapshot(self) -> Snapshot:
        zxid = self.applied[-1][0] if self.applied else 0
        return Snapshot(zxid, msgpack.packb(self.applied))


def serving_leader(nodes: dict[int, ZabNode]) -> ZabNode | None:
    leaders = [n for n in nodes.values() if n.peer is not None and n.peer.state == Role.LEADING and n.peer.serving]
    return leaders[0] if len(leaders) == 1 else None


def loopback_addresses(size: int) -> dict[int, tuple[str, int]]:
    ports = free_ports(size)
    return {sid: ("127.0.0.1", ports[sid - 1]) for sid in range(1, size + 1)}


async def start_and_elect(nodes: dict[int, ZabNode]) -> ZabNode:
    """Start every node; return the leader once one serves."""
    for node in nodes.values():
        await node.start()
    await wait_until_async("a serving leader", lambda: serving_leader(nodes) is not None)
    leader = serving_leader(nodes)
    assert leader is not None
    return leader
