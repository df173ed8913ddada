"""The asyncio shell (coord.zab.node + transport) running a real ensemble on loopback.

Three `ZabNode`s in one process talk over real TCP sockets and write real files; the
leader is stopped (its sockets close, its in-flight work is lost) and restarted from
its files. What must hold: every write acknowledged by `write` is applied on every
member, in the same order.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from coord.zab.node import ZabNode
from tests.coord_zab.ensemble import (
    CONFIG,
    ListMachine,
    loopback_addresses,
    serving_leader,
    start_and_elect,
)
from tests.coord_zab.filestore import FileStorage
from tests.support.waiting import wait_until_async


async def test_three_members_elect_replicate_fail_over_and_rejoin(tmp_path: Path) -> None:
    addresses = loopback_addresses(3)
    machines = {sid: ListMachine() for sid in addresses}

    def make(sid: int) -> ZabNode:
        return ZabNode(sid, addresses, FileStorage(tmp_path / f"s{sid}"), machines[sid], CONFIG)

    nodes = {sid: make(sid) for sid in addresses}
    try:
        leader = await start_and_elect(nodes)
        first = await asyncio.gather(*(leader.write(b"a%d" % i) for i in range(30)))
        assert first == sorted(first)
        await wait_until_async(
            "30 writes applied everywhere", lambda: all(len(m.applied) == 30 for m in machines.values())
        )

        await leader.stop()
        gone = leader.sid
        rest = {sid: n for sid, n in nodes.items() if sid != gone}
        await wait_until_async("a new serving leader", lambda: serving_leader(rest) is not None)
        second = serving_leader(rest)
        assert second is not None and second.peer is not None
        assert second.peer.current_epoch > 1
        await asyncio.gather(*(second.write(b"b%d" % i) for i in range(10)))

        machines[gone] = ListMachine()  # the restarted process rebuilds from its files
        nodes[gone] = make(gone)
        await nodes[gone].start()
        await wait_until_async(
            "40 writes applied everywhere", lambda: all(len(m.applied) == 40 for m in machines.values())
        )
        histories = [m.applied for m in machines.values()]
        assert histories[0] == histories[1] == histories[2]
        assert [d for _, d in histories[0]] == [b"a%d" % i for i in range(30)] + [b"b%d" % i for i in range(10)]
    finally:
        for node in nodes.values():
            await node.stop()
