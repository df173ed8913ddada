"""The server's two clocks, in milliseconds.

Every duration (session expiry, latencies, uptime) is measured on the monotonic clock,
which never steps; the wall clock is only for timestamps people read (znode ctime and
mtime, TTL ages, session id seeds, `cons`), because an operator or NTP may set it at any
time. Two functions, so every caller reads the same clocks and a test or a fix changes
them in one place. This module must never hold state.
"""

from __future__ import annotations

import time


def now_ms() -> int:
    """Wall-clock ms, only for timestamps users see: it can step when the clock is set."""
    return int(time.time() * 1000)


def mono_ms() -> int:
    """Monotonic ms, for every duration: it never steps."""
    return int(time.monotonic() * 1000)
