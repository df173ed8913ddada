"""`Election`: leader election where each candidate watches only its predecessor.

`await election.run(func, *args)` waits to be elected, runs `func` as the leader, and
resigns when it returns. If the session is SUSPENDED or LOST while `func` runs, `func`
is cancelled and `LeadershipLostError` is raised: a leader must never keep acting while its
session is in doubt, since another candidate may already lead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from coord.client import CoordClient
from coord.recipes.contender import Contender


class LeadershipLostError(RuntimeError):
    """The session was suspended or lost while leading; leadership may have moved."""


class Election:
    def __init__(self, client: CoordClient, path: str, identifier: str = "") -> None:
        self._c = Contender(client, path, "election", identifier.encode())

    @property
    def is_leader(self) -> bool:
        return self._c.held

    async def run(self, func: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Block until elected, then return `await func(*args)`; None if cancelled first."""
        if not await self._c.acquire(None):
            return None
        work = asyncio.ensure_future(func(*args))
        lost = asyncio.ensure_future(self._c.lost.wait())
        try:
            await asyncio.wait({work, lost}, return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                return work.result()
            work.cancel()
            raise LeadershipLostError(f"session suspended or lost while leading {self._c.path}")
        finally:
            lost.cancel()
            if not work.done():
                work.cancel()
            await self._c.release()

    def cancel(self) -> None:
        """Withdraw a candidate that is still waiting (run returns None)."""
        self._c.cancel()

    async def contenders(self) -> list[str]:
        """Identifiers of the leader and the waiting candidates, leader first."""
        return [(data or b"").decode() for _, data in await self._c.contenders()]
