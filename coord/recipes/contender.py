"""The queue both recipes share: one ephemeral-sequential node per contender under a
parent, the lowest sequence number holds, everyone else watches its predecessor only.

A node name is `<uuid>__<kind>__<10-digit sequence>`: the uuid lets a contender find its
own node again after a connection loss hid the create's reply (the create may or may
not have happened). Holding ends the moment the session is SUSPENDED, LOST or CLOSED;
`lost` is set then. This module never deletes another contender's node.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from coord.client import ConnState, CoordClient
from coord.protocol.errors import ConnectionLossError, NoNodeError, SessionExpiredError


def sequence_of(name: str) -> int:
    return int(name[-10:])


class Contender:
    def __init__(self, client: CoordClient, path: str, kind: str, data: bytes = b"") -> None:
        self.client, self.path, self.data = client, path.rstrip("/") or "/", data
        self.prefix = f"{uuid.uuid4().hex}__{kind}__"
        self.node: str | None = None
        self.held = False
        self.lost = asyncio.Event()
        self._wake = asyncio.Event()
        self._cancelled = False

    def _on_state(self, state: ConnState) -> None:
        if state != ConnState.CONNECTED and self.held:
            self.held = False
            self.lost.set()
        self._wake.set()

    def cancel(self) -> None:
        """Stop waiting (acquire returns False)."""
        self._cancelled = True
        self._wake.set()

    async def acquire(self, timeout: float | None) -> bool:
        """Queue up and wait to be first; False on timeout or cancel (node removed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._cancelled = False
        self.lost.clear()
        self.client.add_listener(self._on_state)
        try:
            if await self._wait_first(deadline):
                return True
        except BaseException:
            await self._give_up()
            raise
        await self._give_up()
        return False

    async def release(self) -> None:
        """Leave the queue (delete our node) and stop tracking the session."""
        self.held = False
        await self._give_up()

    async def _give_up(self) -> None:
        self.client.remove_listener(self._on_state)
        node, self.node = self.node, None
        if node is None:
            return
        try:
            await self.client.delete(node)
        except (NoNodeError, ConnectionLossError, SessionExpiredError):
            pass  # gone already, or it goes with the session

    def _left(self, deadline: float | None) -> float | None:
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    async def _wait_first(self, deadline: float | None) -> bool:
        while not self._cancelled:
            left = self._left(deadline)
            if left == 0.0:
                return False
            try:
                predecessor = await self._predecessor()
                if predecessor is None:
                    self.held = True
                    return True
                self._wake.clear()
                if await self.client.exists(predecessor, watch=lambda _e: self._wake.set()) is None:
                    continue
            except ConnectionLossError:
                if not await self._reconnected(deadline):
                    return False
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self._left(deadline))
            except TimeoutError:
                return False
        return False

    async def _predecessor(self) -> str | None:
        """Create our node if needed; the path of the node just before ours, or None."""
        if self.node is None:
            try:
                self.node = await self.client.create(
                    f"{self.path}/{self.prefix}", self.data, ephemeral=True, sequence=True, makepath=True
                )
            except ConnectionLossError:
                await self._reconnected(None)
                self.node = await self._find_mine()
                if self.node is None:
                    raise
        children = sorted((c for c in await self.client.get_children(self.path) if "__" in c), key=sequence_of)
        name = self.node.rsplit("/", 1)[1]
        if name not in children:
            raise SessionExpiredError(f"our queue node {self.node} is gone (session expired?)", self.node)
        i = children.index(name)
        return None if i == 0 else f"{self.path}/{children[i - 1]}"

    async def _find_mine(self) -> str | None:
        for child in await self.client.get_children(self.path):
            if child.startswith(self.prefix):
                return f"{self.path}/{child}"
        return None

    async def _reconnected(self, deadline: float | None) -> bool:
        left = self._left(deadline)
        ok = await self.client.wait_connected(self.client.session_timeout if left is None else left)
        if self.client.state == ConnState.LOST:
            raise SessionExpiredError(path=self.node)
        return ok

    async def contenders(self) -> list[tuple[str, bytes | None]]:
        """(node name, data) of everyone queued, first (the holder) first."""
        out: list[tuple[str, bytes | None]] = []
        try:
            children = await self.client.get_children(self.path)
        except NoNodeError:
            return out
        names = sorted((c for c in children if "__" in c), key=sequence_of)
        for name in names:
            try:
                data, _ = await self.client.get(f"{self.path}/{name}")
            except NoNodeError:
                continue
            out.append((name, data))
        return out
