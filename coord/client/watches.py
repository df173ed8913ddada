"""The client's watch registry, sans I/O: which callbacks a server notification wakes.

ZooKeeper's server keeps at most one watch per (connection, path, table), so the client
library owns the fan-out to local callbacks and the one-shot bookkeeping. Rules (from the
Java client's ZKWatchManager): NodeCreated / NodeDataChanged wake data and exist
watchers of the path; NodeDeleted wakes data, exist and child watchers; NodeChildrenChanged
wakes child watchers; persistent watchers of the path see every event and stay; recursive
watchers of the path or an ancestor see every event but NodeChildrenChanged and stay.
It must never do I/O or call a callback itself: it returns the callbacks to call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from coord.protocol.opcodes import EventType, KeeperState

Callback = Callable[["WatchedEvent"], Any]


class WatchedEvent(NamedTuple):
    """What a watch callback receives: event type, keeper state, znode path."""

    type: EventType
    state: KeeperState
    path: str


def _add(table: dict[str, list[Callback]], path: str, cb: Callback) -> None:
    lst = table.setdefault(path, [])
    if cb not in lst:
        lst.append(cb)


def _ancestors(path: str) -> list[str]:
    out = [path]
    while path != "/":
        path = path.rsplit("/", 1)[0] or "/"
        out.append(path)
    return out


class WatchRegistry:
    """Local watchers by table and path."""

    def __init__(self) -> None:
        self.data: dict[str, list[Callback]] = {}
        self.exist: dict[str, list[Callback]] = {}
        self.child: dict[str, list[Callback]] = {}
        self.persistent: dict[str, list[Callback]] = {}
        self.recursive: dict[str, list[Callback]] = {}

    def add_data(self, path: str, cb: Callback) -> None:
        _add(self.data, path, cb)

    def add_exist(self, path: str, cb: Callback) -> None:
        _add(self.exist, path, cb)

    def add_child(self, path: str, cb: Callback) -> None:
        _add(self.child, path, cb)

    def add_persistent(self, path: str, cb: Callback, recursive: bool) -> None:
        _add(self.recursive if recursive else self.persistent, path, cb)

    def triggered(self, event: WatchedEvent) -> list[Callback]:
        """The callbacks this notification wakes, in registration order; one-shot ones
        are removed. A callback registered in several tables is called once."""
        path, etype = event.path, event.type
        out: list[Callback] = []
        one_shot: list[dict[str, list[Callback]]] = []
        if etype in (EventType.NODE_CREATED, EventType.NODE_DATA_CHANGED):
            one_shot = [self.data, self.exist]
        elif etype == EventType.NODE_DELETED:
            one_shot = [self.data, self.exist, self.child]
        elif etype == EventType.NODE_CHILDREN_CHANGED:
            one_shot = [self.child]
        for table in one_shot:
            out.extend(table.pop(path, ()))
        out.extend(self.persistent.get(path, ()))
        if etype != EventType.NODE_CHILDREN_CHANGED:
            for p in _ancestors(path):
                out.extend(self.recursive.get(p, ()))
        seen: list[Callback] = []
        for cb in out:
            if cb not in seen:
                seen.append(cb)
        return seen

    def remove(self, path: str, data: bool, child: bool) -> bool:
        """Forget local watchers of `path` (removeWatches); True if any were there."""
        found = False
        tables = ([self.data, self.exist] if data else []) + ([self.child] if child else [])
        if data and child:
            tables += [self.persistent, self.recursive]
        for table in tables:
            found = table.pop(path, None) is not None or found
        return found

    def set_watches_lists(self) -> tuple[list[str], ...]:
        """(data, exist, child, persistent, recursive) paths to re-register on reconnect."""
        return (
            sorted(self.data),
            sorted(self.exist),
            sorted(self.child),
            sorted(self.persistent),
            sorted(self.recursive),
        )

    def clear(self) -> None:
        for table in (self.data, self.exist, self.child, self.persistent, self.recursive):
            table.clear()
