"""A member whose snapshot is slow to reach the disk keeps logging, acking and serving.

Three coord members in this process (real sockets, real files); one follower's snapshot
fsync is held (storage.diskio: a disk slow to flush a big file, as a 100+ MiB snapshot on a
busy disk is). Writes through that follower must keep completing while the snapshot is
held: its log appends must not queue behind the snapshot (otherwise it acks nothing, the
leader drops it after syncLimit ticks and its clients lose their connection, as
ZooKeeper avoids by snapshotting on a thread of its own). Once released, the snapshot
lands and the member still holds everything.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from coord.client.client import CoordClient
from coord.server.config import ServerConfig
from coord.server.ensemble import EnsembleServer
from storage.diskio import FaultPlan, injected
from tests.support.ports import free_ports
from tests.support.waiting import wait_until_async

SNAP_COUNT = 5


@pytest.mark.slow  # holds a snapshot past twice syncLimit on purpose: 5 s of waiting
@pytest.mark.timeout(300)
async def test_a_held_snapshot_fsync_does_not_stop_a_follower_serving_writes(tmp_path: Path) -> None:
    ports = free_ports(9)
    peers = {str(sid): f"127.0.0.1:{ports[3 + sid - 1]}:{ports[6 + sid - 1]}" for sid in (1, 2, 3)}
    servers = {
        sid: EnsembleServer(
            ServerConfig(
                server_id=sid,
                data_dir=tmp_path / f"data{sid}",
                client_port=ports[sid - 1],
                tick_ms=200,
                snap_count=SNAP_COUNT,
                peers=peers,
                init_limit=50,
                sync_limit=10,
            )
        )
        for sid in (1, 2, 3)
    }
    plan = FaultPlan()
    with injected(plan):
        try:
            for server in servers.values():
                await server.start()
            await wait_until_async(
                "a serving leader and two followers",
                lambda: sorted(s.mode for s in servers.values() if s.serving) == ["follower", "follower", "leader"],
            )
            sid = next(sid for sid, s in servers.items() if s.mode == "follower")
            follower = servers[sid]
            plan.hold_fsync(match=f"data{sid}/snapshot/")
            async with CoordClient(f"127.0.0.1:{ports[sid - 1]}", session_timeout=30.0) as client:
                # Enough writes for this member's snapshot, then as many again behind it.
                for i in range(3 * SNAP_COUNT):
                    await asyncio.wait_for(client.create(f"/n{i:03d}", b"x" * 100), timeout=20.0)
                assert any("held" in f for f in plan.fired), "the snapshot never reached its fsync"
                # Twice syncLimit with the snapshot still held: the leader must still hear
                # this member (its acks), and it must still serve. The time passing is the subject.
                await asyncio.sleep(2 * 10 * 0.2 + 1.0)
                assert follower.serving and follower.mode == "follower"
                await asyncio.wait_for(client.create("/after", b""), timeout=20.0)
                plan.release()
                await wait_until_async(
                    "the snapshot written",
                    lambda: any(
                        p.name.startswith("snapshot.") for p in (tmp_path / f"data{sid}" / "snapshot").iterdir()
                    ),
                )
                assert len(await client.get_children("/")) >= 3 * SNAP_COUNT
        finally:
            plan.release()
            for server in servers.values():
                await server.stop()
