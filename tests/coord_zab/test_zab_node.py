"""The asyncio shell (coord.zab.node + transport) running a real ensemble on loopback.

Three `ZabNode`s in one process talk over real TCP sockets and write real files; the
leader is stopped (its sockets close, its in-flight work is lost) and restarted from
its files. What must hold: every write acknowledged by `write` is applied on every
member, in the same order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import msgpack

from coord.zab import Role, Snapshot, ZabConfig
from coord.zab.node import ZabNode
from tests.coord_zab.filestore import FileStorage
from tests.support.ports import free_ports

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


async def _until(cond: Callable[[], bool], seconds: float = 15.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


def _serving_leader(nodes: dict[int, ZabNode]) -> ZabNode | None:
    leaders = [n for n in nodes.values()
               if n.peer is not None and n.peer.state == Role.LEADING and n.peer.serving]
    return leaders[0] if len(leaders) == 1 else None


async def test_three_members_elect_replicate_fail_over_and_rejoin(tmp_path: Path) -> None:
    ports = free_ports(3)
    addresses = {sid: ("127.0.0.1", ports[sid - 1]) for sid in (1, 2, 3)}
    machines = {sid: ListMachine() for sid in addresses}

    def make(sid: int) -> ZabNode:
        return ZabNode(sid, addresses, FileStorage(tmp_path / f"s{sid}"), machines[sid], CONFIG)

    nodes = {sid: make(sid) for sid in addresses}
    for node in nodes.values():
        await node.start()
    try:
        await _until(lambda: _serving_leader(nodes) is not None)
        leader = _serving_leader(nodes)
        assert leader is not None
        first = await asyncio.gather(*(leader.write(b"a%d" % i) for i in range(30)))
        assert first == sorted(first)
        await _until(lambda: all(len(m.applied) == 30 for m in machines.values()))

        await leader.stop()
        gone = leader.sid
        rest = {sid: n for sid, n in nodes.items() if sid != gone}
        await _until(lambda: _serving_leader(rest) is not None)
        second = _serving_leader(rest)
        assert second is not None and second.peer is not None
        assert second.peer.current_epoch > 1
        await asyncio.gather(*(second.write(b"b%d" % i) for i in range(10)))

        machines[gone] = ListMachine()   # the restarted process rebuilds from its files
        nodes[gone] = make(gone)
        await nodes[gone].start()
        await _until(lambda: all(len(m.applied) == 40 for m in machines.values()))
        histories = [m.applied for m in machines.values()]
        assert histories[0] == histories[1] == histories[2]
        assert [d for _, d in histories[0]] == [b"a%d" % i for i in range(30)] + [b"b%d" % i for i in range(10)]
    finally:
        for node in nodes.values():
            await node.stop()
