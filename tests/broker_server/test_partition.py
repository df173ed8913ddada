"""The leader's high watermark and acks=all purgatory, over a real PartitionLog."""

from __future__ import annotations

import asyncio

from broker.log import LogConfig, PartitionLog
from broker.metadata.znodes import PartitionState
from broker.server.partition import Partition
from client.protocol.record_batch import build_batch


def one_record() -> bytes:
    return build_batch([(None, b"v", None, 1)])


async def test_acks_all_waits_for_every_isr_member(tmp_path):
    log = PartitionLog.open(tmp_path / "t-0", LogConfig())
    part = Partition("t", 0, 1, log, PartitionState(1, 3, (1, 2), 1), [1, 2])
    try:
        info = log.append(one_record(), leader_epoch=part.leader_epoch)
        part.maybe_advance_high_watermark()
        waiter = part.wait_for_high_watermark(info.last_offset + 1)
        assert part.high_watermark == 0 and not waiter.done()  # follower 2 has nothing yet
        part.follower_leo[2] = 1
        part.maybe_advance_high_watermark()
        await asyncio.wait_for(waiter, 1)
        assert part.high_watermark == 1
        part.follower_leo[2] = 0  # a confused follower report never moves the HW back
        part.maybe_advance_high_watermark()
        assert part.high_watermark == 1
    finally:
        log.close()


async def test_single_replica_high_watermark_follows_the_log_end(tmp_path):
    log = PartitionLog.open(tmp_path / "t-0", LogConfig())
    log.append(one_record())
    part = Partition("t", 0, 1, log, PartitionState(1, 0, (1,), 1), [1])
    try:
        assert part.high_watermark == 1
        log.append(one_record(), leader_epoch=0)
        part.maybe_advance_high_watermark()
        assert part.high_watermark == 2 and part.wait_for_high_watermark(2).done()
    finally:
        log.close()
