"""ACLs in coord, as Kafka's ZooKeeper-era authorizer keeps them, and this broker's cache of them.

Literal ACLs live in /kafka-acl/<Type>/<name>, prefixed ones in
/kafka-acl-extended/prefixed/<Type>/<name>, each node Kafka's JSON ({"version":1,"acls":[...]}).
Every change also creates a sequential /kafka-acl-changes/acl_changes_N (literal, data
"Type:name") or /kafka-acl-extended-changes/acl_changes_N (JSON) node; every broker watches both
and, when a notification arrives, re-reads the resource it names, so every broker's cache
follows within a watch round trip. Writes are read-modify-write on the node's version (a
concurrent writer makes us read again). Notifications older than 15 minutes are deleted by
whichever broker sees them (as Kafka's brokers do; their age is coord's creation time, a wall
clock, since it is all the node carries). This module must never decide an authorization:
`acl.decide` does, over `bindings`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from typing import Any

from broker.metadata.change_notifications import purge_old
from broker.security.acl import (
    TYPES_BY_NAME,
    AclBinding,
    BindingFilter,
    Entry,
    PatternType,
    Resource,
    ResourceType,
    change_notification,
    decode_entries,
    encode_entries,
    znode_path,
)
from coord.protocol.errors import BadVersionError, NodeExistsError, NoNodeError

log = logging.getLogger(__name__)

ROOTS = {PatternType.LITERAL: "/kafka-acl", PatternType.PREFIXED: "/kafka-acl-extended/prefixed"}
CHANGE_PATHS = ("/kafka-acl-changes", "/kafka-acl-extended-changes")
CHANGE_TTL_MS = 15 * 60 * 1000  # Kafka's ZkAclChangeStore expiry


class AclStore:
    def __init__(self, coord: Any, change_ttl_ms: int = CHANGE_TTL_MS) -> None:
        self.coord = coord
        self.change_ttl_ms = change_ttl_ms
        self.acls: dict[Resource, frozenset[Entry]] = {}
        self._seen: dict[str, set[str]] = {p: set() for p in CHANGE_PATHS}
        self._tasks: set[asyncio.Task] = set()
        self._closed = False

    @property
    def bindings(self) -> list[AclBinding]:
        return [AclBinding(r, e) for r, entries in self.acls.items() for e in entries]

    # -- reading and following ----------------------------------------------------------------

    async def start(self) -> None:
        """Make the paths, read every ACL, and watch the change notifications."""
        for path in (*ROOTS.values(), *CHANGE_PATHS):
            try:
                await self.coord.create(path, makepath=True)
            except NodeExistsError:
                pass
        for path in CHANGE_PATHS:
            self._seen[path] = set(await self.coord.get_children(path, watch=self._on_change))
        acls: dict[Resource, frozenset[Entry]] = {}
        for pattern, root in ROOTS.items():
            for type_name in await self.coord.get_children(root):
                if type_name not in TYPES_BY_NAME:
                    continue
                for name in await self.coord.get_children(f"{root}/{type_name}"):
                    resource = Resource(TYPES_BY_NAME[type_name], name, pattern)
                    entries = await self._read(resource)
                    if entries:
                        acls[resource] = entries
        self.acls = acls

    async def _read(self, resource: Resource) -> frozenset[Entry]:
        try:
            data, _ = await self.coord.get(znode_path(resource))
        except NoNodeError:
            return frozenset()
        try:
            return frozenset(decode_entries(data))
        except (ValueError, KeyError) as exc:
            log.error("ACL node %s is not Kafka's ACL JSON (%s); ignoring it", znode_path(resource), exc)
            return frozenset()

    def _on_change(self, event: Any) -> None:
        if self._closed:
            return
        path = getattr(event, "path", "") or ""
        task = asyncio.get_running_loop().create_task(self._follow(path))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow(self, path: str) -> None:
        """Re-arm the watch on `path`, and re-read the resource of every new notification."""
        if path not in self._seen:
            return
        try:
            children = set(await self.coord.get_children(path, watch=self._on_change))
            for child in sorted(children - self._seen[path]):
                try:
                    data, _ = await self.coord.get(f"{path}/{child}")
                except NoNodeError:
                    continue
                resource = _changed_resource(path, data or b"")
                if resource is not None:
                    entries = await self._read(resource)
                    if entries:
                        self.acls[resource] = entries
                    else:
                        self.acls.pop(resource, None)
            self._seen[path] = children
            await purge_old(self.coord, path, children, self.change_ttl_ms)
        except Exception as exc:  # noqa: BLE001 - coord away: a full reload happens when the broker rejoins
            log.warning("following ACL changes under %s failed: %s", path, exc)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- writing (CreateAcls, DeleteAcls) ------------------------------------------------------

    async def update(self, resource: Resource, add: Iterable[Entry] = (), remove: Iterable[Entry] = ()) -> None:
        """Add and remove entries of one resource's node, then notify every broker."""
        add, remove = set(add), set(remove)
        path = znode_path(resource)
        while True:
            try:
                data, stat = await self.coord.get(path)
            except NoNodeError:
                if not add:
                    return
                try:
                    await self.coord.create(path, encode_entries(add), makepath=True)
                    break
                except NodeExistsError:
                    continue
            entries = (set(decode_entries(data)) | add) - remove
            try:
                if entries:
                    await self.coord.set(path, encode_entries(entries), version=stat.version)
                else:
                    await self.coord.delete(path, version=stat.version)
                break
            except (BadVersionError, NoNodeError):
                continue
        prefix, payload = change_notification(resource)
        await self.coord.create(prefix, payload, sequence=True, makepath=True)
        current = (self.acls.get(resource, frozenset()) | add) - remove
        if current:
            self.acls[resource] = frozenset(current)
        else:
            self.acls.pop(resource, None)

    def matching(self, flt: BindingFilter) -> list[AclBinding]:
        return [b for b in self.bindings if flt.matches(b)]


def _changed_resource(path: str, data: bytes) -> Resource | None:
    try:
        if path == "/kafka-acl-changes":
            type_name, _, name = data.decode().partition(":")
            return Resource(TYPES_BY_NAME[type_name], name, PatternType.LITERAL)
        obj = json.loads(data)
        return Resource(ResourceType[obj["resourceType"]], obj["name"], PatternType[obj["patternType"]])
    except (KeyError, ValueError, UnicodeDecodeError):
        log.warning("ignoring an unreadable ACL change notification under %s: %r", path, data[:100])
        return None
