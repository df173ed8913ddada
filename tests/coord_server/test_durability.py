"""Durability with real processes: SIGKILL mid-stream, restart with sessions, snapshots,
and refusing to start on a damaged log."""

from __future__ import annotations

import time
from pathlib import Path

from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState

from coord.server.txnlog import MAGIC, list_segments
from tests.coord_server.conftest import start_coord


def _client(hosts: str, timeout: float = 10.0) -> KazooClient:
    kz = KazooClient(hosts=hosts, timeout=timeout, connection_retry={"max_tries": -1, "max_delay": 0.2})
    kz.start(timeout=15)
    return kz


def test_sigkill_during_writes_keeps_every_acknowledged_write(procs, tmp_path: Path) -> None:
    server = start_coord(procs, tmp_path / "data")
    kz = _client(server.hosts)
    acked: list[str] = []
    kz.create("/crash")
    results = [(f"/crash/n{i}", kz.create_async(f"/crash/n{i}", b"v")) for i in range(3000)]
    deadline = time.monotonic() + 20
    while not any(r.ready() for _, r in results[200:]) and time.monotonic() < deadline:
        time.sleep(0.001)
    procs.kill(server.name)  # in the middle of the stream
    for path, r in results:
        r.wait(0.01)
        if r.ready() and r.successful():
            acked.append(path)
    kz.stop()
    kz.close()
    assert 0 < len(acked) < 3000
    # and a write cut short by the crash: half an entry at the end of the newest segment
    _, newest = list_segments(tmp_path / "data" / "log")[-1]
    with open(newest, "ab") as f:
        f.write(b"\x00\x00\x01\x00\x12\x34")
    server.restart()
    kz = _client(server.hosts)
    present = set(kz.get_children("/crash"))
    missing = [p for p in acked if p.rpartition("/")[2] not in present]
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:3]}"
    kz.stop()
    kz.close()
    assert "torn tail" in procs.log_text(server.name)


def test_restart_restores_tree_and_open_sessions(procs, tmp_path: Path) -> None:
    server = start_coord(procs, tmp_path / "data", "coord", "--snap-count", "50")
    kz = _client(server.hosts, timeout=10)
    session_before = kz.client_id
    kz.create("/keep", b"data")
    kz.create("/keep/eph", ephemeral=True)
    for i in range(120):  # enough to take snapshots and roll the log
        kz.create(f"/keep/n{i}")
    states: list[KazooState] = []
    kz.add_listener(states.append)
    assert procs.stop(server.name) == 0
    server.restart()
    deadline = time.monotonic() + 15
    while kz.state != KazooState.CONNECTED or KazooState.SUSPENDED not in states:
        assert time.monotonic() < deadline, "kazoo did not reconnect"
        time.sleep(0.05)
    assert kz.client_id == session_before  # same session, reattached
    assert kz.exists("/keep/eph").ephemeralOwner == session_before[0]
    assert len(kz.get_children("/keep")) == 121
    assert kz.get("/keep")[0] == b"data"
    assert list((tmp_path / "data" / "snapshot").glob("snapshot.*"))
    kz.stop()
    kz.close()


def test_damaged_log_refuses_to_start(procs, tmp_path: Path) -> None:
    server = start_coord(procs, tmp_path / "data")
    kz = _client(server.hosts)
    for i in range(20):
        kz.create(f"/n{i}", b"x" * 50)
    kz.stop()
    kz.close()
    procs.stop(server.name)
    _, seg = list_segments(tmp_path / "data" / "log")[-1]
    raw = bytearray(seg.read_bytes())
    raw[len(MAGIC) + 20] ^= 0xFF
    seg.write_bytes(bytes(raw))
    proc = procs.start_coord("again", *server.args)
    assert proc.wait(timeout=30) == 1
    assert "refusing to start" in procs.log_text("again")


def test_restored_session_that_never_returns_expires(procs, tmp_path: Path) -> None:
    from tests.coord_server.rawclient import RawClient

    server = start_coord(procs, tmp_path / "data", "coord", "--tick-ms", "100")
    raw = RawClient(server.port, timeout_ms=2000)  # max for tick 100
    assert raw.create("/orphan", flags=1)[0] == 0
    procs.kill(server.name)
    raw.close()
    server.restart()
    kz = _client(server.hosts)
    try:
        assert kz.exists("/orphan") is not None  # restored with its session ...
        deadline = time.monotonic() + 10
        while kz.exists("/orphan") is not None:  # ... which expires, nobody touching it
            assert time.monotonic() < deadline, "restored session never expired"
            time.sleep(0.05)
    finally:
        kz.stop()
        kz.close()
