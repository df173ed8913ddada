"""Ending background asyncio tasks at close.

A task still pending when its loop is closed is destroyed with a "Task was destroyed but
it is pending!" error; so whoever starts background tasks cancels and awaits them at
close with `cancel_and_wait`. This module must never swallow a task's result otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


async def cancel_and_wait(tasks: Iterable[asyncio.Future | None]) -> None:
    """Cancel the unfinished tasks (None entries are skipped) and wait until they end."""
    pending = [t for t in tasks if t is not None and not t.done()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
