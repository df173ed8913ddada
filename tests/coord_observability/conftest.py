"""Fixtures: a standalone coord process serving /metrics and the AdminServer; the
ensemble factory of tests/coord_ensemble."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.coord_observability.observe import OBSERVED, printed_ports
from tests.coord_server.conftest import RunningCoord, start_coord
from tests.support.procs import ProcessGroup


@dataclass
class Observed:
    coord: RunningCoord
    metrics_port: int
    admin_port: int


@pytest.fixture
def observed(procs: ProcessGroup, tmp_path: Path) -> Iterator[Observed]:
    config = tmp_path / "coord.toml"  # every four-letter word, to compare them with the AdminServer
    config.write_text('four_letter_whitelist = "*"\n')
    coord = start_coord(procs, tmp_path / "data", "coord", *OBSERVED, "--config", str(config))
    yield Observed(coord, *printed_ports(procs, "coord"))
