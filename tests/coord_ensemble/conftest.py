"""Fixtures of the ensemble tests: an `ensemble(size)` factory whose proxies are closed
(the processes belong to `procs`, which kills them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.coord_ensemble.harness import Ensemble
from tests.support.procs import ProcessGroup


@pytest.fixture
def ensemble(procs: ProcessGroup, tmp_path: Path) -> Iterator[Callable[..., Ensemble]]:
    made: list[Ensemble] = []

    def make(size: int, **kwargs: object) -> Ensemble:
        ens = Ensemble(procs, tmp_path, size, **kwargs)
        made.append(ens)
        return ens

    try:
        yield make
    finally:
        for ens in made:
            ens.close()
