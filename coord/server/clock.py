"""The server's clock for session and latency bookkeeping, in milliseconds.

One function, so every caller reads the same clock and a test or a fix changes it in one
place. This module must never hold state.
"""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)
