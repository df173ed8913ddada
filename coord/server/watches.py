"""Watch tables: who gets told about which change, by ZooKeeper's trigger rules.

Two tables, *data* and *child*, map a path to the watchers (connections) registered
there and the mode of each registration (one-shot, persistent, persistent-recursive;
one mode per watcher, path and table: the later registration wins, as in ZooKeeper 3.8).
`trigger` turns the WatchEvents that `DataTree.apply` reports into notifications, with
one notification per watcher, path and event type even if the watcher sits in both
tables. One-shot registrations are removed when they fire. A watcher is told only about
a node it may READ now (the event's ACL, checked by the caller's `may_read`): a recursive
watch on `/` must not reveal changes under a node the watcher cannot read (ZooKeeper 3.8.4,
CVE-2024-23944); a one-shot watch filtered that way is still used up, as in ZooKeeper.

Watchers are opaque hashable objects (the server's connections). This module must never
send anything or look at a socket: it returns who to notify and the caller sends.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence

from coord.server.datatree import (
    NODE_CHILDREN_CHANGED,
    NODE_CREATED,
    NODE_DATA_CHANGED,
    NODE_DELETED,
    DataTree,
    WatchEvent,
)

STANDARD, PERSISTENT, PERSISTENT_RECURSIVE = 0, 1, 2
# WatcherType of checkWatches / removeWatches
TYPE_CHILDREN, TYPE_DATA, TYPE_ANY = 1, 2, 3

Notification = tuple[Hashable, int, str]
# may_read(watcher, acl): whether the watcher holds READ under that ACL
ReadCheck = Callable[[Hashable, list], bool]


def ancestors(path: str) -> Iterable[str]:
    """`path` and every ancestor up to the root."""
    yield path
    while path != "/":
        path = path.rpartition("/")[0] or "/"
        yield path


class WatchManager:
    def __init__(self) -> None:
        self.data: dict[str, dict[Hashable, int]] = {}
        self.child: dict[str, dict[Hashable, int]] = {}
        self.by_watcher: dict[Hashable, set[tuple[bool, str]]] = {}
        self.recursive = 0

    def add(self, watcher: Hashable, path: str, child_table: bool, mode: int = STANDARD) -> None:
        table = self.child if child_table else self.data
        watchers = table.setdefault(path, {})
        old = watchers.get(watcher)
        if old == PERSISTENT_RECURSIVE:
            self.recursive -= 1
        if mode == PERSISTENT_RECURSIVE:
            self.recursive += 1
        watchers[watcher] = mode
        self.by_watcher.setdefault(watcher, set()).add((child_table, path))

    def add_persistent(self, watcher: Hashable, path: str, recursive: bool) -> None:
        """addWatch: persistent watches sit in the data table, plain ones also in the
        child table (recursive ones never deliver NodeChildrenChanged)."""
        self.add(watcher, path, False, PERSISTENT_RECURSIVE if recursive else PERSISTENT)
        if not recursive:
            self.add(watcher, path, True, PERSISTENT)

    def _drop(self, watcher: Hashable, path: str, child_table: bool) -> bool:
        table = self.child if child_table else self.data
        watchers = table.get(path)
        if not watchers or watcher not in watchers:
            return False
        if watchers.pop(watcher) == PERSISTENT_RECURSIVE:
            self.recursive -= 1
        if not watchers:
            del table[path]
        keys = self.by_watcher.get(watcher)
        if keys is not None:
            keys.discard((child_table, path))
        return True

    def remove_watcher(self, watcher: Hashable) -> None:
        """The connection is gone: drop all its registrations."""
        for child_table, path in list(self.by_watcher.pop(watcher, ())):
            self._drop(watcher, path, child_table)

    def _tables_for(self, watcher_type: int) -> list[bool]:
        return {TYPE_CHILDREN: [True], TYPE_DATA: [False], TYPE_ANY: [False, True]}.get(watcher_type, [])

    def has(self, watcher: Hashable, path: str, watcher_type: int) -> bool:
        """checkWatches: does this watcher have such a watch?"""
        return any(watcher in (self.child if c else self.data).get(path, {}) for c in self._tables_for(watcher_type))

    def remove(self, watcher: Hashable, path: str, watcher_type: int) -> bool:
        """removeWatches: True if anything was removed."""
        removed = False
        for child_table in self._tables_for(watcher_type):
            removed = self._drop(watcher, path, child_table) or removed
        return removed

    # -- firing ---------------------------------------------------------------------------

    def trigger(self, events: Iterable[WatchEvent], may_read: ReadCheck | None = None) -> list[Notification]:
        out: list[Notification] = []
        for event in events:
            out.extend(
                (w, event.type, event.path) for w in self._fire(event) if may_read is None or may_read(w, event.acl)
            )
        return out

    def _fire(self, event: WatchEvent) -> list[Hashable]:
        etype, path = event.type, event.path
        fired: dict[Hashable, None] = {}
        if etype in (NODE_CREATED, NODE_DATA_CHANGED, NODE_DELETED):
            self._fire_table(self.data, path, fired)
        if etype in (NODE_CHILDREN_CHANGED, NODE_DELETED):
            self._fire_table(self.child, path, fired)
        if self.recursive and etype != NODE_CHILDREN_CHANGED:
            for p in ancestors(path):
                for w, mode in self.data.get(p, {}).items():
                    if mode == PERSISTENT_RECURSIVE:
                        fired[w] = None
        return list(fired)

    def _fire_table(self, table: dict[str, dict[Hashable, int]], path: str, fired: dict[Hashable, None]) -> None:
        watchers = table.get(path)
        if not watchers:
            return
        child_table = table is self.child
        for w, mode in list(watchers.items()):
            if mode == PERSISTENT_RECURSIVE:
                continue
            fired[w] = None
            if mode == STANDARD:
                self._drop(w, path, child_table)

    # -- reconnect ----------------------------------------------------------------------

    def set_watches(
        self,
        watcher: Hashable,
        tree: DataTree,
        relative_zxid: int,
        data: list[str],
        exist: list[str],
        child: list[str],
        persistent: Sequence[str] = (),
        recursive: Sequence[str] = (),
    ) -> list[Notification]:
        """SetWatches / SetWatches2: catch-up events for changes the client missed since
        `relative_zxid`, registrations for everything else."""
        out: list[Notification] = []
        for paths, child_table in ((data, False), (child, True)):
            for path in paths:
                node = tree.get(path)
                if node is None:
                    out.append((watcher, NODE_DELETED, path))
                elif (node.pzxid if child_table else node.mzxid) > relative_zxid:
                    out.append((watcher, NODE_CHILDREN_CHANGED if child_table else NODE_DATA_CHANGED, path))
                else:
                    self.add(watcher, path, child_table)
        for path in exist:
            if tree.get(path) is not None:
                out.append((watcher, NODE_CREATED, path))
            else:
                self.add(watcher, path, False)
        for path in persistent:
            self.add_persistent(watcher, path, False)
        for path in recursive:
            self.add_persistent(watcher, path, True)
        return out

    # -- admin counts ---------------------------------------------------------------------

    def summary(self) -> tuple[int, int, int]:
        """(connections, paths, total watches) of the data table, as `wchs` reports."""
        watchers = {w for ws in self.data.values() for w in ws}
        return len(watchers), len(self.data), sum(len(ws) for ws in self.data.values())

    def count(self) -> int:
        return sum(len(ws) for ws in self.data.values()) + sum(len(ws) for ws in self.child.values())
