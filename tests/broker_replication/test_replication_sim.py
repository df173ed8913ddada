"""The replication core under the seeded simulator: invariants after every event, many seeds.

See tests/broker_replication/sim.py for the model and the invariants. A failing seed prints
SEED=... and the command that replays it.
"""

from __future__ import annotations

import os

import pytest

from tests.broker_replication.sim import run_seed
from tests.sim.seeds import sweep

DEFAULT_SEEDS = 250
# The default sweep runs in chunks: each is a test item of its own, so the two xdist workers
# share them and no single item comes near the per-test timeout on a loaded machine.
CHUNK = 50
SOAK_SEEDS = int(os.environ.get("REPLICATION_SOAK_SEEDS", "5000"))


def _assert_clean(first: int, count: int) -> None:
    result = sweep(run_seed, range(first, first + count))
    if result.failures:
        raise result.failures[0]


@pytest.mark.slow
@pytest.mark.parametrize("first", range(0, DEFAULT_SEEDS, CHUNK))
def test_no_acked_write_lost_logs_agree_below_hw_and_hw_monotonic_over_many_seeds(first: int) -> None:
    _assert_clean(first, CHUNK)


def test_a_run_makes_progress_and_is_a_function_of_its_seed() -> None:
    a, b = run_seed(4242), run_seed(4242)
    assert a.checks.acked and a.checks.acked == b.checks.acked
    assert a.state == b.state


@pytest.mark.soak
def test_soak_thousands_of_seeds() -> None:
    _assert_clean(100_000, SOAK_SEEDS)
