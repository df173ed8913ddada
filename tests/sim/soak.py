"""Soak entry point: `python -m tests.sim.soak --seeds 5000` or `--seed S --trace`.

Runs the ZAB simulation for many seeds (or replays one with its event trace) and
prints seeds per minute plus every failing seed with its replay command. Exit status 1
if any seed failed. It must never hide a failure behind a retry.
"""

from __future__ import annotations

import argparse
import sys

from tests.sim.seeds import SimFailureError, sweep
from tests.sim.zab_cluster import run_seed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sim.soak",
                                     description="seeded ZAB simulation soak")
    parser.add_argument("--seeds", type=int, default=1000, help="how many seeds to run")
    parser.add_argument("--start", type=int, default=0, help="first seed of the sweep")
    parser.add_argument("--seed", type=int, help="replay exactly this one seed")
    parser.add_argument("--trace", action="store_true", help="print the event trace")
    parser.add_argument("--keep-going", action="store_true", help="do not stop at the first failure")
    args = parser.parse_args(argv)
    if args.seed is not None:
        try:
            cluster = run_seed(args.seed, trace=args.trace)
        except SimFailureError as exc:
            print(exc)
            return 1
        if args.trace:
            print("\n".join(cluster.trace))
        print(f"SEED={args.seed} ok: {len(cluster.checker.history)} txns committed, "
              f"{len(cluster.checker.acked)} acknowledged, {cluster.sched.steps} events")
        return 0
    result = sweep(lambda s: run_seed(s, trace=args.trace),
                   range(args.start, args.start + args.seeds), stop_on_failure=not args.keep_going)
    for failure in result.failures:
        print(failure)
    print(f"{result.seeds} seeds, {len(result.failures)} failed, {result.seconds:.1f}s "
          f"({result.per_minute:.0f} seeds/minute)")
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
