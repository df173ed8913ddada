"""A clean close while a periodic producer-state snapshot is being written.

The log manager's flush pass writes the snapshots in a worker thread that cancelling the
pass does not stop. The close's own (fsynced) snapshot pass then found the tables
"already snapshotted" and returned while that write was still in flight, so the broker
went on to close its logs and mark a clean shutdown with the newest snapshot unwritten
(or, after a table was reset, both wrote the same `.tmp` file at once). The close must
wait for the write in flight, and fsync what a periodic pass only wrote."""

from __future__ import annotations

import asyncio
from pathlib import Path

from broker.log import LogConfig, PartitionLog
from broker.server.idempotence import ProducerStates, snapshot_path
from client.protocol.record_batch import build_batch
from storage.diskio import FaultPlan, injected
from tests.support.waiting import wait_until_async

HELD_LIMIT_S = 3.0  # a held write lets go after this even unreleased


def _log_with_a_producer(directory: Path) -> tuple[PartitionLog, ProducerStates]:
    plog = PartitionLog.open(directory, LogConfig(segment_bytes=4096))
    states = ProducerStates()
    two = [(None, b"v", None, 1000), (None, b"v", None, 1001)]
    records = build_batch(two, producer_id=1, producer_epoch=0, base_sequence=0)
    admission = states.admit(plog, 0, records)
    admission.appended(plog.append(records, leader_epoch=0).first_offset)
    plog.flush()
    return plog, states


async def test_close_waits_for_the_periodic_snapshot_in_flight(tmp_path: Path) -> None:
    plog, states = _log_with_a_producer(tmp_path / "t-0")
    final = snapshot_path(plog.directory, 2)
    plan = FaultPlan().hold_write(match=".snapshot.tmp", limit=HELD_LIMIT_S)
    try:
        with injected(plan):
            periodic = asyncio.ensure_future(states.snapshot([plog], durable=False))  # a flush pass's snapshot
            await wait_until_async("the periodic snapshot held in its write", lambda: plan.fired, timeout=10)
            periodic.cancel()  # the log manager's close cancels its flush pass...
            closing = asyncio.ensure_future(states.snapshot([plog], durable=True))  # ...then snapshots
            written_when_closed: list[bool] = []
            closing.add_done_callback(lambda _: written_when_closed.append(final.exists()))
            await wait_until_async("the flush pass cancelled", periodic.done, timeout=10)
            plan.release()
            await closing
        assert written_when_closed == [True], "close returned with the snapshot still being written"
        assert not final.with_name(final.name + ".tmp").exists()
    finally:
        plan.release()
        plog.close()


async def test_a_clean_close_fsyncs_a_snapshot_the_periodic_pass_only_wrote(tmp_path: Path) -> None:
    plog, states = _log_with_a_producer(tmp_path / "t-0")
    try:
        await states.snapshot([plog], durable=False)
        assert snapshot_path(plog.directory, 2).exists()
        plan = FaultPlan().fail_fsync(match=".snapshot.tmp")  # to see whether close fsyncs it
        with injected(plan):
            await states.snapshot([plog], durable=True)
        assert plan.fired, "the close's snapshot pass did not fsync the snapshot"
    finally:
        plog.close()
