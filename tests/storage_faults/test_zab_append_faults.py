"""A member whose log append fails must never acknowledge past it (coord.zab.node).

Three `ZabNode`s on loopback with real files; one follower's next log write or fsync
fails (storage.diskio). What must hold: that member acknowledges no zxid its log does not
hold (with everything below it), it stops (fail-stop, as ZooKeeper's
SyncRequestProcessor shuts the server down), the other two keep committing, and the
member restarted from its files catches up to the same history.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from coord.zab import actions as act
from coord.zab.messages import Ack
from coord.zab.node import ZabNode
from storage.diskio import FaultPlan, injected
from tests.coord_zab.ensemble import CONFIG, ListMachine, loopback_addresses, start_and_elect
from tests.coord_zab.filestore import FileStorage
from tests.support.waiting import wait_until_async


@pytest.mark.parametrize("fault", ["write", "fsync"])
async def test_a_member_whose_append_fails_never_acks_past_it_and_rejoins(tmp_path: Path, fault: str) -> None:
    addresses = loopback_addresses(3)
    machines = {sid: ListMachine() for sid in addresses}
    acked: dict[int, int] = dict.fromkeys(addresses, 0)

    def make(sid: int) -> ZabNode:
        def seen(a: act.Action) -> None:
            if isinstance(a, act.Send) and isinstance(a.msg, Ack):
                acked[sid] = max(acked[sid], a.msg.zxid)

        return ZabNode(sid, addresses, FileStorage(tmp_path / f"s{sid}"), machines[sid], CONFIG, on_action=seen)

    nodes = {sid: make(sid) for sid in addresses}
    try:
        leader = await start_and_elect(nodes)
        await asyncio.gather(*(leader.write(b"a%d" % i) for i in range(5)))
        await wait_until_async(
            "5 writes applied everywhere", lambda: all(len(m.applied) == 5 for m in machines.values())
        )
        victim = next(sid for sid in nodes if sid != leader.sid)
        plan = FaultPlan()
        if fault == "write":
            plan.fail_write(1, match=f"s{victim}/log")
        else:
            plan.fail_fsync(1, match=f"s{victim}/log")
        with injected(plan):
            for i in range(20):  # one at a time: many appends reach the victim
                await leader.write(b"b%d" % i)
            await wait_until_async("the append fault fired", lambda: bool(plan.fired), 5)
            await wait_until_async("the victim stopped", lambda: not nodes[victim].running, 5)

        on_disk = FileStorage(tmp_path / f"s{victim}").load().entries
        history = machines[leader.sid].applied
        held = [z for z, _ in on_disk]
        assert held == [z for z, _ in history[: len(held)]], "the victim's log is not a prefix of the history"
        assert acked[victim] <= (held[-1] if held else 0), (
            f"server {victim} acknowledged {acked[victim]:#x} but its log ends at {held[-1]:#x}"
        )

        machines[victim] = ListMachine()  # restarted from what is really on disk
        nodes[victim] = make(victim)
        await nodes[victim].start()
        await wait_until_async("the victim caught up to 25 writes", lambda: len(machines[victim].applied) == 25)
        assert machines[victim].applied == history
    finally:
        for node in nodes.values():
            await node.stop()
