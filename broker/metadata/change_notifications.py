"""Purging Kafka-style change notifications (`/config/changes`, `/kafka-acl-changes/...`).

Every broker follows the sequential znodes a writer leaves under a changes path and
deletes those older than a time to live, as Kafka's ZkNodeChangeNotificationListener
does, so the path does not grow for ever. Brokers race to delete: a conditional delete
that loses the race is not an error. This module never reads what a notification says.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from coord.client import CoordClient
from coord.protocol.errors import BadVersionError, NoNodeError


async def purge_old(coord: CoordClient, path: str, children: Iterable[str], ttl_ms: int) -> None:
    """Delete the notifications under `path` created more than `ttl_ms` ago (by their
    znode's ctime, the wall clock of the coord member that created them)."""
    now_ms = int(time.time() * 1000)
    for child in sorted(children):
        node = f"{path}/{child}"
        try:
            _, stat = await coord.get(node)
            if now_ms - stat.ctime > ttl_ms:
                await coord.delete(node, version=stat.version)
        except (NoNodeError, BadVersionError):  # another broker purged it first
            continue
