"""`Lock`: a distributed mutex on ephemeral-sequential znodes (no herd effect).

    async with Lock(client, "/locks/topic-x"):
        ...

`lost` is set (and `is_held` turns False) the moment the session is SUSPENDED or LOST:
another client may then get the lock, so the holder must stop its critical work. The
lock never survives its session, and release never deletes another holder's node.
"""

from __future__ import annotations

from coord.client import CoordClient
from coord.recipes.contender import Contender


class LockTimeoutError(TimeoutError):
    """acquire() gave up after its timeout."""


class Lock:
    def __init__(self, client: CoordClient, path: str, identifier: str = "") -> None:
        self._c = Contender(client, path, "lock", identifier.encode())

    @property
    def is_held(self) -> bool:
        return self._c.held

    @property
    def lost(self):
        """An asyncio.Event set when a held lock is lost with the session."""
        return self._c.lost

    async def acquire(self, timeout: float | None = None) -> bool:
        """Wait until we hold the lock; False if `timeout` seconds pass first."""
        return await self._c.acquire(timeout)

    async def release(self) -> None:
        await self._c.release()

    def cancel(self) -> None:
        """Make a pending acquire() return False."""
        self._c.cancel()

    async def contenders(self) -> list[str]:
        """Identifiers of the holder and the waiters, holder first."""
        return [(data or b"").decode() for _, data in await self._c.contenders()]

    async def __aenter__(self) -> Lock:
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()
