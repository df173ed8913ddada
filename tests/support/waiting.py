"""The one way a test waits: poll a condition until it holds, bounded in time.

A test never sleeps a fixed time hoping something happened; it names what it waits for
and polls for it. On timeout the failure names the wait and shows the condition's last
value (or the exception it last raised), which is usually the clue. `wait_until` blocks
(for tests that drive processes and threads); `wait_until_async` yields to the event
loop between polls, for tests whose subject runs on that loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class _Poll:
    """One bounded wait: the deadline and the condition's last outcome."""

    def __init__(self, what: str, check: Callable[[], T], timeout: float) -> None:
        self.what, self.check, self.timeout = what, check, timeout
        self.deadline = time.monotonic() + timeout
        self.last: object = None

    def holds(self) -> bool:
        try:
            self.last = self.check()
        except Exception as exc:  # noqa: BLE001 - a poll may meet a server mid-restart
            self.last = exc
            return False
        return bool(self.last)

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def failure(self) -> AssertionError:
        error = AssertionError(f"timed out after {self.timeout:g}s waiting for {self.what} (last value: {self.last!r})")
        if isinstance(self.last, Exception):
            error.__cause__ = self.last
        return error


def wait_until(what: str, check: Callable[[], T], timeout: float = 45.0, interval: float = 0.1) -> T:
    """Call `check` every `interval` seconds until it returns something truthy, and
    return that; fail naming `what` after `timeout` seconds. An exception from `check`
    counts as "not yet"."""
    poll = _Poll(what, check, timeout)
    while not poll.holds():
        if poll.expired():
            raise poll.failure()
        time.sleep(interval)
    return poll.last  # type: ignore[return-value]  # holds() stored check()'s truthy value


async def wait_until_async(what: str, check: Callable[[], T], timeout: float = 15.0, interval: float = 0.02) -> T:
    """`wait_until` for a test on an event loop: the loop runs between polls."""
    poll = _Poll(what, check, timeout)
    while not poll.holds():
        if poll.expired():
            raise poll.failure()
        await asyncio.sleep(interval)
    return poll.last  # type: ignore[return-value]  # holds() stored check()'s truthy value
