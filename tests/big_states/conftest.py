"""Fixtures of the big-state tests: the `ensemble(size)` factory of tests/coord_ensemble."""

from tests.coord_ensemble.conftest import ensemble  # noqa: F401 - a fixture, re-exported
