"""`retry`: re-run an idempotent coord operation across connection trouble.

Only for operations that are safe to repeat (reads, set with a version, create that
tolerates NodeExists...): a request lost with its connection may or may not have been
applied. Attempts are bounded and back off exponentially, so a dead ensemble surfaces
as the last error instead of a hang. Session expiry is never retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from coord.protocol.errors import ConnectionLossError, OperationTimeoutError

T = TypeVar("T")
RETRYABLE: tuple[type[BaseException], ...] = (ConnectionLossError, OperationTimeoutError)


async def retry(
    fn: Callable[..., Awaitable[T]],
    *args: Any,
    attempts: int = 5,
    backoff: float = 0.1,
    max_backoff: float = 2.0,
    retry_on: tuple[type[BaseException], ...] = RETRYABLE,
    **kwargs: Any,
) -> T:
    """`await fn(*args, **kwargs)`, retried up to `attempts` times on `retry_on`."""
    delay = backoff
    for attempt in range(1, attempts + 1):
        try:
            return await fn(*args, **kwargs)
        except retry_on:
            if attempt == attempts:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_backoff)
    raise AssertionError("unreachable")
