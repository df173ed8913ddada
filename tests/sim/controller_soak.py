"""Controller soak: `python -m tests.sim.controller_soak --seeds 5000`, or `--seed S` to replay one.

Runs the controller simulation (tests/sim/controller_cluster.py) for many seeds, or
replays one seed and prints its event trace (with --trace, a failing seed's too); prints
seeds per minute and every failing seed with its replay command. Exit status 1 if any
seed failed. As a pytest module (`python -m pytest -m soak tests/sim/controller_soak.py`)
it runs CONTROLLER_SOAK_SEEDS (5000) seeds. It must never hide a failure behind a retry.
"""

from __future__ import annotations

import os
import sys

import pytest

from tests.sim.controller_cluster import ControllerCluster
from tests.sim.seeds import soak_cli, sweep

SOAK_SEEDS = int(os.environ.get("CONTROLLER_SOAK_SEEDS", "5000"))


def _run(seed: int, trace: bool = False) -> ControllerCluster:
    cluster = ControllerCluster(seed)
    try:
        cluster.run()
    finally:
        if trace:  # a failing seed's trace too: it is what the replay is for
            print("\n".join(cluster.trace))
    return cluster


def _summary(cluster: object) -> str:
    assert isinstance(cluster, ControllerCluster)
    return (
        f"controller epoch {cluster.coord.epoch}, {sum(map(len, cluster.acked.values()))} acks=all "
        f"records acknowledged, {cluster.sched.steps} events"
    )


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_soak_thousands_of_seeds() -> None:
    result = sweep(_run, range(200_000, 200_000 + SOAK_SEEDS), stop_on_failure=False)
    assert not result.failures, "\n\n".join(str(f) for f in result.failures[:3])


def main(argv: list[str] | None = None) -> int:
    return soak_cli("python -m tests.sim.controller_soak", "seeded controller simulation soak", _run, _summary, argv)


if __name__ == "__main__":
    sys.exit(main())
