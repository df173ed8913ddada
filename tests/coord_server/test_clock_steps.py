"""Session expiry measures elapsed time on the monotonic clock: a step of the server's
wall clock (NTP, `date -s`) neither expires every live session at once (forward) nor
keeps a dead session's ephemerals for as long as the step (back). A real server process
whose wall clock the test steps with libfaketime."""

from __future__ import annotations

import time
from pathlib import Path

from kazoo.client import KazooClient

from tests.coord_server.rawclient import RawClient
from tests.support.faketime import SteppedClock
from tests.support.ports import free_port
from tests.support.procs import ProcessGroup, wait_for_port

STEP = 2 * 3600


def _start(procs: ProcessGroup, tmp_path: Path) -> tuple[SteppedClock, int]:
    clock = SteppedClock(tmp_path / "faketime")
    port = free_port()
    procs.start_coord(
        "coord",
        "start",
        "--id",
        "1",
        "--data-dir",
        str(tmp_path / "data"),
        "--client-port",
        str(port),
        "--tick-ms",
        "200",
        env=clock.env(),
    )
    wait_for_port(port)
    return clock, port


def _kazoo(port: int) -> KazooClient:
    client = KazooClient(hosts=f"127.0.0.1:{port}", timeout=4)
    client.start(timeout=10)
    return client


def test_a_forward_step_expires_no_live_session(procs: ProcessGroup, tmp_path: Path) -> None:
    clock, port = _start(procs, tmp_path)
    zk = _kazoo(port)
    try:
        zk.create("/alive", b"", ephemeral=True)
        session = zk.client_id
        clock.step(STEP)
        time.sleep(3)  # several expiry checks (tick 200 ms), well within the 4 s timeout
        observer = _kazoo(port)
        try:
            assert observer.exists("/alive") is not None, "a live session expired when the clock stepped forward"
        finally:
            observer.stop()
            observer.close()
        assert zk.client_id == session
    finally:
        zk.stop()
        zk.close()


def test_a_backward_step_still_expires_a_dead_session_on_time(procs: ProcessGroup, tmp_path: Path) -> None:
    clock, port = _start(procs, tmp_path)
    dying = RawClient(port, timeout_ms=2000)
    assert dying.create("/orphan", b"", flags=1)[0] == 0  # ephemeral
    clock.step(-STEP)
    dying.sock.close()  # gone without closing its session: only expiry removes /orphan
    zk = _kazoo(port)
    try:
        deadline = time.monotonic() + 15
        while zk.exists("/orphan") is not None:
            assert time.monotonic() < deadline, "a dead session's ephemeral outlived its timeout by far"
            time.sleep(0.1)
    finally:
        zk.stop()
        zk.close()
