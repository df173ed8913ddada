"""One partition this broker leads: its log, leader epoch, ISR and high watermark.

The high watermark is the minimum log end offset over the in-sync replicas and never
moves back; consumers read below it and acks=all produces complete when it passes their
last offset. With one replica the ISR is just the leader, so the watermark follows the
log end at once, but the rule is the cluster's rule, so replication (issue 6) only adds
follower log end offsets. This module must never do I/O beyond calling its log, and
never read the clock.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

from broker.log import PartitionLog
from broker.metadata.znodes import PartitionState


class Partition:
    def __init__(self, topic: str, partition: int, broker_id: int, log: PartitionLog,
                 state: PartitionState, replicas: list[int]) -> None:
        self.topic = topic
        self.partition = partition
        self.broker_id = broker_id
        self.log = log
        self.replicas = list(replicas)
        self.leader_epoch = state.leader_epoch
        self.isr = set(state.isr)
        self.follower_leo: dict[int, int] = {}
        self.high_watermark = log.log_start_offset
        self._hw_waiters: list[tuple[int, int, asyncio.Future]] = []
        self._seq = itertools.count()
        self.maybe_advance_high_watermark()

    def update_state(self, state: PartitionState, replicas: list[int]) -> None:
        """LeaderAndIsr for a partition we already lead: take the newer epoch and ISR."""
        if state.leader_epoch >= self.leader_epoch:
            self.leader_epoch = state.leader_epoch
            self.isr = set(state.isr)
            self.replicas = list(replicas)
            self.maybe_advance_high_watermark()

    def maybe_advance_high_watermark(self) -> None:
        leos = [self.log.log_end_offset if r == self.broker_id else self.follower_leo.get(r, 0)
                for r in self.isr]
        new_hw = min(leos) if leos else self.log.log_end_offset
        if new_hw <= self.high_watermark:
            return
        self.high_watermark = new_hw
        while self._hw_waiters and self._hw_waiters[0][0] <= new_hw:
            _, _, fut = heapq.heappop(self._hw_waiters)
            if not fut.done():
                fut.set_result(None)

    def wait_for_high_watermark(self, offset: int) -> asyncio.Future:
        """A future done once the high watermark reaches `offset` (acks=all purgatory)."""
        fut = asyncio.get_running_loop().create_future()
        if self.high_watermark >= offset:
            fut.set_result(None)
        else:
            heapq.heappush(self._hw_waiters, (offset, next(self._seq), fut))
        return fut

    def fail_waiters(self, exc: BaseException) -> None:
        for _, _, fut in self._hw_waiters:
            if not fut.done():
                fut.set_exception(exc)
        self._hw_waiters.clear()
