"""The server's pipeline in-process (no sockets): group commit, recovery, containers/TTL,
session close. Real disk, real event loop, real I/O thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from coord.server import prep as P
from coord.server.clock import now_ms
from coord.server.config import ServerConfig
from coord.server.server import CoordServer

ACL = [[31, "world", "anyone"]]


def _server(tmp_path: Path) -> CoordServer:
    server = CoordServer(ServerConfig(data_dir=tmp_path, snap_count=400))
    server.recover()
    return server


async def _run(
    server: CoordServer, ops: list[tuple], session: int = 0, until: Callable[[], bool] = lambda: True
) -> list:
    """Prepare and submit all ops at once, as pipelined clients would; wait for all, and
    for `until` (the committer goes on, e.g. packing a snapshot in steps, meanwhile)."""
    task = asyncio.create_task(server._committer())
    done: list = []
    loop = asyncio.get_running_loop()
    futures = []
    for op in ops:
        fut = loop.create_future()
        prepared = server.view.prepare(session, op, now_ms())
        server.submit(prepared.txn, lambda txn, res, f=fut, p=prepared: f.set_result((p, res)))
        futures.append(fut)
    done = await asyncio.wait_for(asyncio.gather(*futures), 30)
    deadline = loop.time() + 30
    while not until():
        assert loop.time() < deadline, "the committer did not get there within 30 s"
        await asyncio.sleep(0.01)
    task.cancel()
    return done


async def test_group_commit_shares_fsyncs_and_recovers(tmp_path: Path) -> None:
    server = _server(tmp_path)
    calls: list[int] = []
    real_append = server._txnlog.append
    server._txnlog.append = lambda entries: (calls.append(len(entries)), real_append(entries))[1]
    ops = [(P.OP_CREATE, f"/n{i}", b"v", ACL, 0, -1) for i in range(1000)]
    snapshots = tmp_path / "snapshot"
    results = await _run(server, ops, until=lambda: any(snapshots.glob("snapshot.*")))
    assert all(p.err == 0 for p, _ in results)
    assert sum(calls) == 1000 and len(calls) < 100, calls  # many txns per fsync
    server._io.shutdown(wait=True)  # let the snapshot job finish
    again = _server(tmp_path)
    assert all(f"/n{i}" in again.tree.nodes for i in range(1000))
    assert again.tree.last_zxid == server.tree.last_zxid
    assert list((tmp_path / "snapshot").glob("snapshot.*"))


async def test_containers_and_ttl_are_cleaned(tmp_path: Path) -> None:
    server = _server(tmp_path)
    await _run(
        server,
        [
            (P.OP_CREATE_CONTAINER, "/box", b"", ACL, 4, -1),
            (P.OP_CREATE_CONTAINER, "/never-used", b"", ACL, 4, -1),
            (P.OP_CREATE, "/box/item", b"", ACL, 0, -1),
            (P.OP_CREATE_TTL, "/ttl", b"", ACL, 5, 50),
            (P.OP_DELETE, "/box/item", -1),
        ],
    )
    assert server.tree.get("/box").stat().ephemeralOwner == 0  # markers stay internal
    task = asyncio.create_task(server._committer())
    assert server.check_containers(now_ms() + 1000) == 2
    for _ in range(200):
        if "/box" not in server.tree.nodes and "/ttl" not in server.tree.nodes:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert "/box" not in server.tree.nodes and "/ttl" not in server.tree.nodes
    assert "/never-used" in server.tree.nodes  # a container that never had a child stays


async def test_session_close_is_a_txn_that_removes_ephemerals(tmp_path: Path) -> None:
    server = _server(tmp_path)
    task = asyncio.create_task(server._committer())
    created = asyncio.get_running_loop().create_future()
    sid, password = server.new_session(4000, lambda txn, res: created.set_result(txn))
    await asyncio.wait_for(created, 10)
    task.cancel()
    assert server.session_valid(sid, password) and not server.session_valid(sid, b"x" * 16)
    await _run(server, [(P.OP_CREATE, "/e", b"", ACL, 1, -1)], session=sid)
    assert server.tree.ephemerals == {sid: {"/e"}}
    task = asyncio.create_task(server._committer())
    closed = asyncio.get_running_loop().create_future()
    server.close_session(sid, lambda txn, res: closed.set_result(txn))
    await asyncio.wait_for(closed, 10)
    task.cancel()
    assert "/e" not in server.tree.nodes and sid not in server.tree.sessions
    assert not server.session_valid(sid, password)


async def test_log_write_failure_stops_without_acknowledging(tmp_path: Path) -> None:
    import os

    server = _server(tmp_path)
    os.close(server._txnlog._file.fileno())  # the disk goes away under the log
    task = asyncio.create_task(server._committer())
    applied: list = []
    server.submit(
        server.view.prepare(0, (P.OP_CREATE, "/lost", b"", ACL, 0, -1), now_ms()).txn,
        lambda txn, res: applied.append(txn),
    )
    await asyncio.wait_for(server.failed.wait(), 10)
    await asyncio.wait_for(task, 5)
    assert applied == [] and "/lost" not in server.tree.nodes
    try:
        server._txnlog._file.close()
    except OSError:
        pass
