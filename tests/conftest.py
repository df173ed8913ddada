"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import ProcessGroup


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[ProcessGroup]:
    """Real server processes, all killed when the test ends, whatever its outcome."""
    group = ProcessGroup(tmp_path)
    try:
        yield group
    finally:
        group.close()
