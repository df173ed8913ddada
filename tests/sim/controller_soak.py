"""Controller soak: `python -m tests.sim.controller_soak --seeds 5000`, or `--seed S` to replay one.

Runs the controller simulation (tests/sim/controller_cluster.py) for many seeds, or
replays one seed and prints its event trace (with --trace); prints seeds per minute and
every failing seed with its replay command. Exit status 1 if any seed failed. As a
pytest module (marker `soak`), it runs thousands of seeds. It must never hide a failure
behind a retry.
"""

from __future__ import annotations

import argparse
import os
import sys

import pytest

from tests.sim.controller_cluster import ControllerCluster
from tests.sim.seeds import SimFailure, sweep

SOAK_SEEDS = int(os.environ.get("CONTROLLER_SOAK_SEEDS", "5000"))


def _run(seed: int, trace: bool = False) -> ControllerCluster:
    cluster = ControllerCluster(seed)
    try:
        cluster.run()
    finally:
        if trace:
            print("\n".join(cluster.trace))
    return cluster


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_soak_thousands_of_seeds() -> None:
    result = sweep(_run, range(200_000, 200_000 + SOAK_SEEDS), stop_on_failure=False)
    assert not result.failures, "\n\n".join(str(f) for f in result.failures[:3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sim.controller_soak",
                                     description="seeded controller simulation soak")
    parser.add_argument("--seeds", type=int, default=1000, help="how many seeds to run")
    parser.add_argument("--start", type=int, default=0, help="first seed of the sweep")
    parser.add_argument("--seed", type=int, help="replay exactly this one seed")
    parser.add_argument("--trace", action="store_true", help="print the event trace")
    args = parser.parse_args(argv)
    if args.seed is not None:
        try:
            cluster = _run(args.seed, trace=args.trace)
        except SimFailure as exc:
            print(exc)
            return 1
        print(f"SEED={args.seed} ok: controller epochs {cluster.coord.epoch}, "
              f"{sum(map(len, cluster.acked.values()))} acks=all records acknowledged, {cluster.sched.steps} events")
        return 0
    result = sweep(_run, range(args.start, args.start + args.seeds), stop_on_failure=False)
    for failure in result.failures:
        print(failure)
    print(f"{result.seeds} seeds, {len(result.failures)} failed, {result.seconds:.1f}s "
          f"({result.per_minute:.0f} seeds/minute)")
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
