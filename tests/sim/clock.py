"""Virtual time and the event queue that every simulated component schedules on.

One `Scheduler` per run: events fire in (time, insertion order), so a run depends only
on its seed. Nothing here may read the real clock or sleep.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable


class Scheduler:
    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self.steps = 0

    def at(self, when: float, fn: Callable[[], None]) -> None:
        """Run fn at virtual time `when` (never earlier than now)."""
        self._seq += 1
        heapq.heappush(self._queue, (max(when, self.now), self._seq, fn))

    def after(self, delay: float, fn: Callable[[], None]) -> None:
        self.at(self.now + delay, fn)

    def every(self, period: float, fn: Callable[[], None], start: float = 0.0) -> None:
        """Run fn every `period` from `start` for as long as the run lasts."""

        def fire() -> None:
            fn()
            self.after(period, fire)

        self.at(start, fire)

    def run_until(
        self, deadline: float, stop: Callable[[], bool] | None = None, after_step: Callable[[], None] | None = None
    ) -> bool:
        """Fire events up to `deadline`; True if `stop()` became true first."""
        while self._queue and self._queue[0][0] <= deadline:
            when, _, fn = heapq.heappop(self._queue)
            self.now = when
            fn()
            self.steps += 1
            if after_step is not None:
                after_step()
            if stop is not None and stop():
                return True
        self.now = max(self.now, deadline)
        return False
