"""Fetch long-poll wake-ups: who waits for new data on which partition.

A fetch (or an acks=all produce) that found nothing to answer yet waits on the future of
each partition it reads; anything that makes more data readable (an append, a move of the
high watermark, the partition going away) completes that future, waking every waiter at
once. This module must never touch logs or decide what a fetch answers.
"""

from __future__ import annotations

import asyncio

TopicPartition = tuple[str, int]


class FetchWakeups:
    """One shared future per partition someone waits on, completed by the next change."""

    def __init__(self) -> None:
        self._arrivals: dict[TopicPartition, asyncio.Future] = {}

    def notify(self, topic: str, partition: int) -> None:
        """Wake fetches waiting on t-p (it grew, its high watermark moved, or it went)."""
        waiter = self._arrivals.pop((topic, partition), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def arrival(self, topic: str, partition: int) -> asyncio.Future:
        """A future completed by the next append to (or HW move of) t-p (shared by all who wait)."""
        fut = self._arrivals.get((topic, partition))
        if fut is None or fut.done():
            fut = self._arrivals[(topic, partition)] = asyncio.get_running_loop().create_future()
        return fut
