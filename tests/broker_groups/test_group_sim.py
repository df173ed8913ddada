"""The group core under the seeded simulator (tests/broker_groups/sim.py): invariants after every
step, many seeds. A failing seed prints SEED=... and the command that replays it."""

from __future__ import annotations

import os

import pytest

from tests.broker_groups.sim import run_seed
from tests.sim.seeds import sweep

DEFAULT_SEEDS = 150
SOAK_SEEDS = int(os.environ.get("GROUPS_SOAK_SEEDS", "2000"))


def _assert_clean(first: int, count: int) -> None:
    result = sweep(run_seed, range(first, first + count))
    if result.failures:
        raise result.failures[0]


@pytest.mark.slow
def test_stable_generations_own_every_partition_once_over_many_seeds() -> None:
    _assert_clean(0, DEFAULT_SEEDS)


def test_a_run_reaches_stable_generations_and_is_a_function_of_its_seed() -> None:
    a, b = run_seed(7), run_seed(7)
    assert a.group.generation_id > 1 and a.log == b.log


@pytest.mark.soak
def test_soak_thousands_of_seeds() -> None:
    _assert_clean(10_000, SOAK_SEEDS)
