"""A step of the broker's wall clock changes no group timeout: the group coordinator
measures member sessions on the monotonic clock. A real node whose wall clock libfaketime
moves two hours back while one member of a group dies without leaving: the survivor gets
every partition within about a session timeout, not two hours later."""

from __future__ import annotations

import time
from pathlib import Path

from client import AsyncAdmin, AsyncConsumer, NewTopic
from tests.client_groups.conftest import NODE_CONFIG, Members
from tests.client_groups.test_consumer_groups import FAST, Recorder, poll_until
from tests.support.faketime import SteppedClock
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port
from tests.support.waiting import wait_until


async def test_a_backward_wall_clock_step_still_expires_a_dead_member(procs: ProcessGroup, tmp_path: Path) -> None:
    clock = SteppedClock(tmp_path / "faketime")
    broker_port, coord_port = free_ports(2)
    (tmp_path / "broker.toml").write_text(NODE_CONFIG)
    procs.start(
        "node",
        "start",
        "--data-dir",
        str(tmp_path / "data"),
        "--broker-port",
        str(broker_port),
        "--coord-port",
        str(coord_port),
        "--config",
        str(tmp_path / "broker.toml"),
        env=clock.env(),
    )
    wait_for_port(broker_port, timeout=30)
    bs = f"127.0.0.1:{broker_port}"
    async with AsyncAdmin(bs) as admin:
        await admin.create_topics([NewTopic("stepped", 2)])
    members = Members(procs, bs, tmp_path)
    members.start("doomed", "g", "stepped")
    wait_until(
        "the doomed member owns a partition",
        lambda: any(line[0] == "A" and line[1:] != [""] for line in members.lines("doomed")),
        30,
    )
    survivor, recorder = AsyncConsumer(bs, group_id="g", **FAST), Recorder()
    await survivor.start()
    try:
        survivor.subscribe(["stepped"], listener=recorder)
        await poll_until([survivor], lambda got: len(survivor.assignment()) == 1)
        procs.kill("doomed")  # gone without a LeaveGroup: only its session timeout frees it
        clock.step(-2 * 3600)
        started = time.monotonic()
        await poll_until([survivor], lambda got: len(survivor.assignment()) == 2, timeout=30)
        assert time.monotonic() - started < 20
    finally:
        await survivor.close()
