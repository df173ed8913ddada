"""Seed bookkeeping shared by every simulation: failures that say how to replay them.

A simulation run is a function of its seed alone. When a run fails, `SimFailureError`
carries the seed, the virtual time, and the exact command that replays that seed, so a
failure in CI is one copy-paste away from a debugger. It must never swallow a failure.
"""

from __future__ import annotations

import argparse
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


def sweep(run_one: Callable[[int], object], seeds: Iterable[int], stop_on_failure: bool = True) -> SweepResult:
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


def soak_cli(
    prog: str,
    description: str,
    run: Callable[[int, bool], object],
    summary: Callable[[object], str],
    argv: list[str] | None = None,
) -> int:
    """A simulation's soak command: sweep many seeds, or replay one (`run(seed, trace)`
    prints its own trace when asked). Exit status 1 if any seed failed."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--seeds", type=int, default=1000, help="how many seeds to run")
    parser.add_argument("--start", type=int, default=0, help="first seed of the sweep")
    parser.add_argument("--seed", type=int, help="replay exactly this one seed")
    parser.add_argument("--trace", action="store_true", help="print the event trace")
    parser.add_argument("--keep-going", action="store_true", help="do not stop at the first failure")
    args = parser.parse_args(argv)
    if args.seed is not None:
        try:
            done = run(args.seed, args.trace)
        except SimFailureError as exc:
            print(exc)
            return 1
        print(f"SEED={args.seed} ok: {summary(done)}")
        return 0
    result = sweep(
        lambda s: run(s, False), range(args.start, args.start + args.seeds), stop_on_failure=not args.keep_going
    )
    for failure in result.failures:
        print(failure)
    print(
        f"{result.seeds} seeds, {len(result.failures)} failed, {result.seconds:.1f}s "
        f"({result.per_minute:.0f} seeds/minute)"
    )
    return 1 if result.failures else 0
