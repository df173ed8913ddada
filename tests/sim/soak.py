"""Soak entry point: `python -m tests.sim.soak --seeds 5000` or `--seed S --trace`.

Runs the ZAB simulation for many seeds (or replays one with its event trace) and
prints seeds per minute plus every failing seed with its replay command. Exit status 1
if any seed failed. It must never hide a failure behind a retry.
"""

from __future__ import annotations

import sys

from tests.sim.seeds import soak_cli
from tests.sim.zab_cluster import ZabCluster, run_seed


def _run(seed: int, trace: bool) -> ZabCluster:
    cluster = run_seed(seed, trace=trace)
    if trace:
        print("\n".join(cluster.trace))
    return cluster


def _summary(cluster: object) -> str:
    assert isinstance(cluster, ZabCluster)
    return (
        f"{len(cluster.checker.history)} txns committed, {len(cluster.checker.acked)} acknowledged, "
        f"{cluster.sched.steps} events"
    )


def main(argv: list[str] | None = None) -> int:
    return soak_cli("python -m tests.sim.soak", "seeded ZAB simulation soak", _run, _summary, argv)


if __name__ == "__main__":
    sys.exit(main())
