"""Step the wall clock of a real process while it runs (Debian's libfaketime).

The process is started with `env()`; `step(seconds)` then moves its CLOCK_REALTIME by
that much more (forward or back), as an NTP step or an operator's `date -s` would,
while CLOCK_MONOTONIC keeps running untouched. It must never touch the test's own clock.
"""

from __future__ import annotations

from pathlib import Path

import pytest

LIBRARY = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


class SteppedClock:
    def __init__(self, path: Path) -> None:
        if not LIBRARY.exists():
            pytest.skip("libfaketime is not installed (apt-get install faketime)")
        self.path = path
        self.offset = 0
        self._write()

    def env(self) -> dict[str, str]:
        return {
            "LD_PRELOAD": str(LIBRARY),
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }

    def step(self, seconds: int) -> None:
        self.offset += seconds
        self._write()

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(f"{self.offset:+d}\n")
        tmp.replace(self.path)  # the process never reads half a file
