"""Seed bookkeeping shared by every simulation: failures that say how to replay them.

A simulation run is a function of its seed alone. When a run fails, `SimFailureError`
carries the seed, the virtual time, and the exact command that replays that seed, so a
failure in CI is one copy-paste away from a debugger. It must never swallow a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


class SimFailureError(AssertionError):
    """An invariant or liveness check failed under a given seed."""

    def __init__(self, seed: int, at: float, what: str, replay: str) -> None:
        super().__init__(f"SEED={seed} at t={at:.3f}s: {what}\n  reproduce: {replay}")
        self.seed = seed


@dataclass
class SweepResult:
    seeds: int
    failures: list[SimFailureError]
    seconds: float

    @property
    def per_minute(self) -> float:
        return self.seeds * 60.0 / self.seconds if self.seconds else 0.0


def sweep(run_one: Callable[[int], object], seeds: Iterable[int],
          stop_on_failure: bool = True) -> SweepResult:
    """Run `run_one(seed)` for each seed, collecting SimFailures."""
    start = time.perf_counter()
    failures: list[SimFailureError] = []
    count = 0
    for seed in seeds:
        count += 1
        try:
            run_one(seed)
        except SimFailureError as exc:
            failures.append(exc)
            if stop_on_failure:
                break
    return SweepResult(count, failures, time.perf_counter() - start)
