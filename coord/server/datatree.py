"""The data tree: znodes, their 11-field Stat, and the pure `apply(txn)` that changes them.

Every server applies the same transactions in zxid order and so holds the same tree; the
tree therefore never decides anything (no validation beyond what the prep step already
checked, no clock, no randomness). It also holds the replicated session table (session
id -> timeout, password), because session create/close are transactions too.

It must never do I/O (beyond logging an exceeded quota, as ZooKeeper does) and never
read the time: `txn.time` is the leader's clock.

Quota stats (see `quota`) are maintained here, as part of applying, so every member
computes the same /zookeeper/quota/<path>/zookeeper_stats data; like ZooKeeper's, those
updates change the stats node's data but not its version or mzxid.

Stat bookkeeping follows ZooKeeper's: a node keeps `seq`, the count of child creations
(the source of sequential suffixes); the client-visible cversion is ``2 * seq -
numChildren`` (= creations + deletions), so the root of a fresh tree shows cversion -1
exactly as ZooKeeper's does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, NamedTuple

from coord.protocol.opcodes import EventType
from coord.protocol.records import Stat
from coord.server import quota
from coord.server import txn as T
from coord.server.tree_image import TreeImage
from coord.server.txn import Txn

NODE_CREATED = EventType.NODE_CREATED
NODE_DELETED = EventType.NODE_DELETED
NODE_DATA_CHANGED = EventType.NODE_DATA_CHANGED
NODE_CHILDREN_CHANGED = EventType.NODE_CHILDREN_CHANGED

Acl = list[list[Any]]  # one [perms, scheme, id] per entry, as txns and snapshots carry it
OPEN_ACL = [[31, "world", "anyone"]]
READ_ACL = [[1, "world", "anyone"]]
log = logging.getLogger(__name__)
RESERVED = ("/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config")


class Node:
    __slots__ = (
        "data",
        "acl",
        "czxid",
        "mzxid",
        "ctime",
        "mtime",
        "version",
        "seq",
        "aversion",
        "owner",
        "pzxid",
        "children",
    )

    def __init__(self, data: bytes | None, acl: Acl, zxid: int, time: int, owner: int) -> None:
        self.data = data
        self.acl = acl
        self.czxid = self.mzxid = self.pzxid = zxid
        self.ctime = self.mtime = time
        self.version = self.seq = self.aversion = 0
        self.owner = owner
        self.children: set[str] = set()

    def stat(self) -> Stat:
        owner = self.owner if T.is_ephemeral_owner(self.owner) else 0
        n = len(self.children)
        return Stat(
            self.czxid,
            self.mzxid,
            self.ctime,
            self.mtime,
            self.version,
            2 * self.seq - n,
            self.aversion,
            owner,
            len(self.data) if self.data else 0,
            n,
            self.pzxid,
        )

    def to_list(self, path: str) -> list[Any]:
        return [
            path,
            self.data,
            self.acl,
            self.czxid,
            self.mzxid,
            self.ctime,
            self.mtime,
            self.version,
            self.seq,
            self.aversion,
            self.owner,
            self.pzxid,
        ]

    @classmethod
    def from_list(cls, item: list[Any]) -> tuple[str, Node]:
        path, data, acl, czxid, mzxid, ctime, mtime, version, seq, aversion, owner, pzxid = item
        node = cls(data, acl, czxid, ctime, owner)
        node.mzxid, node.mtime, node.version, node.seq = mzxid, mtime, version, seq
        node.aversion, node.pzxid = aversion, pzxid
        return path, node


class WatchEvent(NamedTuple):
    type: int
    path: str
    acl: Acl  # the ACL a watcher needs READ on to be told: the node's, the parent's for children


def parent_of(path: str) -> str:
    head = path.rpartition("/")[0]
    return head or "/"


def child_name(path: str) -> str:
    return path.rpartition("/")[2]


class DataTree:
    """Znodes keyed by full path, plus indexes the server needs (ephemerals by session,
    containers and TTL nodes) and the session table."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.ephemerals: dict[int, set[str]] = {}
        self.containers: set[str] = set()
        self.ttls: set[str] = set()
        self.sessions: dict[int, tuple[int, bytes]] = {}
        self.quotas: set[str] = set()  # data paths with a zookeeper_limits node
        self.last_zxid = 0
        self._image: TreeImage | None = None  # a snapshot being packed while applies go on
        for path in RESERVED:
            config = path == "/zookeeper/config"
            node = self.nodes[path] = Node(b"", READ_ACL if config else OPEN_ACL, 0, 0, 0)
            if config:
                node.aversion = -1  # as ZooKeeper shows it
            if path != "/":
                self.nodes[parent_of(path)].children.add(child_name(path))

    # -- reads ---------------------------------------------------------------------

    def get(self, path: str) -> Node | None:
        return self.nodes.get(path)

    def node_count(self) -> int:
        """As ZooKeeper reports it: its node map holds the root twice."""
        return len(self.nodes) + 1

    def approximate_data_size(self) -> int:
        return sum(len(p) + (len(n.data) if n.data else 0) for p, n in self.nodes.items())

    def subtree_count(self, path: str) -> int:
        """Number of nodes below `path` (not counting it)."""
        total, stack = 0, [path]
        while stack:
            p = stack.pop()
            node = self.nodes[p]
            base = "" if p == "/" else p
            total += len(node.children)
            stack.extend(f"{base}/{c}" for c in node.children)
        return total

    def subtree_usage(self, path: str) -> tuple[int, int]:
        """(nodes, data bytes) of `path` and everything below it; (0, 0) if absent."""
        if path not in self.nodes:
            return 0, 0
        count = size = 0
        stack = [path]
        while stack:
            p = stack.pop()
            node = self.nodes[p]
            count += 1
            size += len(node.data) if node.data else 0
            base = "" if p == "/" else p
            stack.extend(f"{base}/{c}" for c in node.children)
        return count, size

    def quota_owner(self, path: str) -> str | None:
        """The deepest quota'd path that is `path` or one of its ancestors (ZooKeeper's
        getMaxPrefixWithQuota, which ignores a quota on /zookeeper)."""
        p = path
        while p not in self.quotas:
            if p == "/":
                return None
            p = parent_of(p)
        return None if p == "/zookeeper" else p

    def ephemeral_count(self) -> int:
        return sum(len(s) for s in self.ephemerals.values())

    # -- images (snapshots packed in steps) ------------------------------------------

    def image(self) -> TreeImage:
        """The tree as of now, for a reader that lets nothing apply until it is done."""
        return TreeImage(self.nodes, self.sessions, self.last_zxid)

    def attach_image(self) -> TreeImage:
        """The tree as of now, kept exact while later transactions apply, until
        `detach_image` (see `tree_image`). One at a time."""
        if self._image is not None:
            raise RuntimeError("an image of this tree is already being read")
        self._image = self.image()
        return self._image

    def detach_image(self, image: TreeImage | None) -> None:
        """Stop keeping nodes for `image` (None: for whichever image is attached)."""
        if image is None or self._image is image:
            self._image = None

    def _keep(self, path: str) -> None:
        """`path` is about to change: an attached image keeps it as it was."""
        if self._image is not None:
            self._image.keep(path)

    # -- apply ---------------------------------------------------------------------

    def apply(self, txn: Txn) -> tuple[list[WatchEvent], list[Any]]:
        """Apply one committed transaction; return the watch events it fires and one
        result per op (a Stat, a (path, Stat) for creates, or None)."""
        events: list[WatchEvent] = []
        if txn.kind == T.MULTI:
            results = [self._apply_op(kind, body, txn, events) for kind, body in txn.body]
        else:
            results = [self._apply_op(txn.kind, txn.body, txn, events)]
        if txn.zxid > self.last_zxid:
            self.last_zxid = txn.zxid
        return events, results

    def _apply_op(self, kind: int, body: list[Any], txn: Txn, events: list[WatchEvent]) -> Any:
        if kind == T.CREATE:
            return self._create(body[0], body[1], body[2], body[3], txn.zxid, txn.time, events)
        if kind in (T.DELETE, T.DELETE_CONTAINER):
            self._delete(body[0], txn.zxid, events)
            return None
        if kind == T.SET_DATA:
            self._keep(body[0])
            node = self.nodes[body[0]]
            delta = _size(body[1]) - _size(node.data)
            node.data, node.version = body[1], node.version + 1
            node.mzxid, node.mtime = txn.zxid, txn.time
            events.append(WatchEvent(NODE_DATA_CHANGED, body[0], node.acl))
            stat = node.stat()
            self._count_usage(body[0], delta, 0)
            return stat
        if kind == T.SET_ACL:
            self._keep(body[0])
            node = self.nodes[body[0]]
            node.acl, node.aversion = body[1], node.aversion + 1
            return node.stat()
        if kind == T.CREATE_SESSION:  # (an image copied the session table when taken)
            self.sessions[body[0]] = (body[1], bytes(body[2]))
            return None
        if kind == T.CLOSE_SESSION:
            for path in body[1]:
                if path in self.nodes:
                    self._delete(path, txn.zxid, events)
            self.sessions.pop(body[0], None)
            self.ephemerals.pop(body[0], None)
            return None
        return None  # CHECK and ERROR change nothing

    def _create(
        self, path: str, data: bytes | None, acl: Acl, owner: int, zxid: int, time: int, events: list[WatchEvent]
    ) -> tuple[str, Stat]:
        parent_path = parent_of(path)
        self._keep(parent_path)
        parent = self.nodes[parent_path]
        node = Node(data, acl, zxid, time, owner)
        self.nodes[path] = node
        parent.children.add(child_name(path))
        parent.seq += 1
        parent.pzxid = zxid
        if owner == T.CONTAINER_OWNER:
            self.containers.add(path)
        elif T.ttl_of(owner) is not None:
            self.ttls.add(path)
        elif owner:
            self.ephemerals.setdefault(owner, set()).add(path)
        events.append(WatchEvent(NODE_CREATED, path, acl))
        events.append(WatchEvent(NODE_CHILDREN_CHANGED, parent_path, parent.acl))
        stat = node.stat()
        covered = quota.quota_path_of(parent_path)
        if covered is not None and child_name(path) == quota.LIMIT_NODE:
            self.quotas.add(covered)
        if covered is not None and child_name(path) == quota.STAT_NODE:
            self._recount_quota(covered)
        self._count_usage(path, _size(data), 1)
        return path, stat

    def _delete(self, path: str, zxid: int, events: list[WatchEvent]) -> None:
        parent_path = parent_of(path)
        self._keep(path)
        self._keep(parent_path)
        node = self.nodes.pop(path)
        parent = self.nodes[parent_path]
        parent.children.discard(child_name(path))
        # Deletes count in cversion through 2*seq - numChildren; the parent's seq
        # (creations) stays, so sequence numbers never repeat.
        if zxid > parent.pzxid:
            parent.pzxid = zxid
        self.containers.discard(path)
        self.ttls.discard(path)
        covered = quota.quota_path_of(parent_path)
        if covered is not None and child_name(path) == quota.LIMIT_NODE:
            self.quotas.discard(covered)
        self._count_usage(path, -_size(node.data), -1)
        if T.is_ephemeral_owner(node.owner):
            owned = self.ephemerals.get(node.owner)
            if owned is not None:
                owned.discard(path)
                if not owned:
                    del self.ephemerals[node.owner]
        events.append(WatchEvent(NODE_DELETED, path, node.acl))
        events.append(WatchEvent(NODE_CHILDREN_CHANGED, parent_path, parent.acl))

    # -- quota stats -----------------------------------------------------------------

    def _recount_quota(self, path: str) -> None:
        """Set `path`'s stats node to its subtree's full count (ZooKeeper's
        updateQuotaForPath), keeping any other fields the node holds."""
        self._keep(quota.stat_path(path))
        node = self.nodes.get(quota.stat_path(path))
        if node is None:
            return
        fields = quota.parse(node.data)
        fields["count"], fields["bytes"] = self.subtree_usage(path)
        node.data = quota.render(fields)

    def _count_usage(self, path: str, bytes_delta: int, count_delta: int) -> None:
        """Adjust the stats of the quota covering `path` (ZooKeeper's updateQuotaStat);
        warn, without refusing, when the result is over a limit."""
        owner = self.quota_owner(path)
        if owner is None:
            return
        self._keep(quota.stat_path(owner))
        node = self.nodes.get(quota.stat_path(owner))
        if node is None:
            return  # limits written before stats (zkCli's order): counted when it comes
        fields = quota.parse(node.data)
        fields["count"] = fields.get("count", 0) + count_delta
        fields["bytes"] = fields.get("bytes", 0) + bytes_delta
        node.data = quota.render(fields)
        limits = self.nodes.get(quota.limit_path(owner))
        for over in quota.exceeded(fields, quota.parse(limits.data if limits else None)):
            log.warning("quota exceeded on %s: %s", owner, over)

    # -- snapshot form ---------------------------------------------------------------

    def iter_nodes(self) -> Iterator[list[Any]]:
        for path, node in self.nodes.items():
            yield node.to_list(path)

    @classmethod
    def restore(cls, nodes: list[list[Any]], sessions: list[list[Any]], last_zxid: int) -> DataTree:
        tree = cls()
        tree.nodes = {}
        for item in nodes:
            path, node = Node.from_list(item)
            tree.nodes[path] = node
        for path, node in tree.nodes.items():
            if path != "/":
                tree.nodes[parent_of(path)].children.add(child_name(path))
            if node.owner == T.CONTAINER_OWNER:
                tree.containers.add(path)
            elif T.ttl_of(node.owner) is not None:
                tree.ttls.add(path)
            elif node.owner:
                tree.ephemerals.setdefault(node.owner, set()).add(path)
        tree.sessions = {sid: (timeout, bytes(pw)) for sid, timeout, pw in sessions}
        tree.last_zxid = last_zxid
        tree._setup_quotas()
        return tree

    def _setup_quotas(self) -> None:
        """Rebuild the quota index from /zookeeper/quota and recount every stats node,
        as ZooKeeper does when it loads a snapshot (setupQuota)."""
        prefix = quota.QUOTA_ROOT + "/"
        for path in [p for p in self.nodes if p.startswith(prefix)]:
            covered = quota.quota_path_of(parent_of(path))
            if covered is not None and child_name(path) == quota.LIMIT_NODE:
                self.quotas.add(covered)
        for covered in self.quotas:
            self._recount_quota(covered)


def _size(data: bytes | None) -> int:
    return len(data) if data else 0
