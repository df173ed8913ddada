"""Requests answered from the applied tree (ZooKeeper's FinalRequestProcessor reads).

Reads, sync, the watch calls and multiRead run when their connection's earlier replies are
done (see `connection`), on the tree as applied at that moment, and register watches at that
same moment, so no change can slip between the answer and the watch. In standalone mode
`sync` has nothing to catch up with and just echoes the path.

A read is answered from what it is given (the tree, the watch table, who asks), never from
the connection: the watcher is an opaque key of the watch table. Ping, auth and setWatches
change or answer through the connection itself, so they live there.

This module must never change the tree; it may only register or remove watches.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, NamedTuple

from coord.protocol import records as R
from coord.protocol.errors import ErrorCode
from coord.protocol.jute import JuteReader
from coord.protocol.opcodes import OpCode, Perms
from coord.server import acl
from coord.server.acl import Ids
from coord.server.datatree import DataTree, Node
from coord.server.watches import WatchManager


class Reader(NamedTuple):
    """Who reads: the watch-table key for its watches, its ACL ids, its session."""

    watcher: Hashable
    ids: Ids
    session_id: int


def answer_read(tree: DataTree, watches: WatchManager, who: Reader, op: OpCode, r: JuteReader) -> tuple[int, Any]:
    """(error code, response record or None) for one read request."""
    if op == OpCode.multiRead:
        return 0, R.MultiReadResponse(
            [_multi_read_one(tree, code, rec, who.ids) for code, rec in R.decode_multi_read_request(r)]
        )
    if op == OpCode.whoAmI:
        return 0, R.WhoAmIResponse(
            [R.ClientInfo(scheme, ident if scheme == "ip" else ident.partition(":")[0]) for scheme, ident in who.ids]
        )
    rec = R.request_record(op).decode(r)
    try:
        return 0, _path_read(tree, watches, who, op, rec)
    except _ReadFailedError as e:
        return e.code, None


def set_watches(
    tree: DataTree, watches: WatchManager, watcher: Hashable, op: OpCode, r: JuteReader
) -> list[tuple[Any, int, str]]:
    """Re-register a reconnecting client's watches; the events it missed, to send at once."""
    rec = R.request_record(op).decode(r)
    extra = {}
    if op == OpCode.setWatches2:
        extra = {"persistent": rec.persistentWatches or [], "recursive": rec.persistentRecursiveWatches or []}
    return watches.set_watches(
        watcher, tree, rec.relativeZxid, rec.dataWatches or [], rec.existWatches or [], rec.childWatches or [], **extra
    )


class _ReadFailedError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _node(tree: DataTree, path: str, ids: Ids, perm: int = Perms.READ) -> Node:
    """The node at `path` if this connection may read it (NONODE / NOAUTH otherwise)."""
    node = tree.get(path)
    if node is None:
        raise _ReadFailedError(ErrorCode.NONODE)
    if not acl.allowed(node.acl, perm, ids):
        raise _ReadFailedError(ErrorCode.NOAUTH)
    return node


def _path_read(tree: DataTree, watches: WatchManager, who: Reader, op: OpCode, rec: Any) -> Any:
    path = getattr(rec, "path", None) or ""  # kazoo sends "" as a null string
    ids, watcher = who.ids, who.watcher
    if op == OpCode.exists:
        if "\0" in path:
            raise _ReadFailedError(ErrorCode.BADARGUMENTS)
        node = tree.get(path)  # no ACL check: ZooKeeper 3.8.0 answers exists for anyone
        if rec.watch:
            watches.add(watcher, path, False)
        if node is None:
            raise _ReadFailedError(ErrorCode.NONODE)
        return R.ExistsResponse(node.stat())
    if op == OpCode.getData:
        node = _node(tree, path, ids)
        if rec.watch:
            watches.add(watcher, path, False)
        return R.GetDataResponse(node.data, node.stat())
    if op in (OpCode.getChildren, OpCode.getChildren2):
        node = _node(tree, path, ids)
        if rec.watch:
            watches.add(watcher, path, True)
        if op == OpCode.getChildren:
            return R.GetChildrenResponse(list(node.children))
        return R.GetChildren2Response(list(node.children), node.stat())
    if op == OpCode.getACL:
        node = _node(tree, path, ids, Perms.READ | Perms.ADMIN)
        shown = [R.ACL(perms, R.Id(scheme, ident)) for perms, scheme, ident in acl.shown_to(node.acl, ids)]
        return R.GetACLResponse(shown, node.stat())
    if op == OpCode.sync:
        return R.SyncResponse(path)
    if op == OpCode.getEphemerals:
        prefix = rec.prefixPath or "/"
        owned = tree.ephemerals.get(who.session_id, ())
        return R.GetEphemeralsResponse(sorted(p for p in owned if p.startswith(prefix)))
    if op == OpCode.getAllChildrenNumber:
        _node(tree, path, ids)
        return R.GetAllChildrenNumberResponse(tree.subtree_count(path))
    if op == OpCode.addWatch:
        if rec.mode not in (0, 1):
            raise _ReadFailedError(ErrorCode.BADARGUMENTS)
        watches.add_persistent(watcher, path, recursive=rec.mode == 1)
        return R.ErrorResponse(0)
    if op in (OpCode.checkWatches, OpCode.removeWatches):
        check = op == OpCode.checkWatches
        found = (watches.has if check else watches.remove)(watcher, path, rec.type)
        if not found:
            raise _ReadFailedError(ErrorCode.NOWATCHER)
        return None
    raise _ReadFailedError(ErrorCode.UNIMPLEMENTED)


def _multi_read_one(tree: DataTree, code: int, rec: Any, ids: Ids) -> Any:
    try:
        node = _node(tree, rec.path or "", ids)
    except _ReadFailedError as e:
        return R.ErrorResult(e.code)
    if code == OpCode.getData:
        return R.GetDataResponse(node.data, node.stat())
    return R.GetChildrenResponse(list(node.children))
