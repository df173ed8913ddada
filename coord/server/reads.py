"""Requests answered from the applied tree (ZooKeeper's FinalRequestProcessor reads).

Reads, pings, auth, sync, the watch calls and multiRead run when their connection's
earlier replies are done (see `connection`), on the tree as applied at that moment, and
register watches at that same moment, so no change can slip between the answer and the
watch. In standalone mode `sync` has nothing to catch up with and just echoes the path.

This module must never change the tree; it may only register or remove watches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from coord.protocol import records as R
from coord.protocol.errors import ErrorCode
from coord.protocol.jute import JuteReader
from coord.protocol.opcodes import OpCode, Perms
from coord.server import acl
from coord.server.acl import Ids
from coord.server.datatree import DataTree, Node

if TYPE_CHECKING:
    from coord.server.connection import Connection


def handle_read(conn: Connection, xid: int, op: OpCode, r: JuteReader) -> bytes | None:
    tree = conn.server.tree
    if op == OpCode.ping:
        return conn._reply(xid)
    if op == OpCode.auth:
        packet = R.AuthPacket.decode(r)
        if conn.authenticate(packet.scheme or "", bytes(packet.auth or b"")):
            return conn._reply(xid, 0, zxid=0)
        conn.closing_after_flush = True
        return conn._reply(xid, ErrorCode.AUTHFAILED, zxid=0)
    if op in (OpCode.setWatches, OpCode.setWatches2):
        return _set_watches(conn, xid, op, r)
    if op == OpCode.multiRead:
        return conn._reply(xid, 0, R.MultiReadResponse(
            [_multi_read_one(tree, code, rec, conn.ids)
             for code, rec in R.decode_multi_read_request(r)]))
    if op == OpCode.whoAmI:
        infos = [R.ClientInfo("ip", str(conn.peer[0]))]
        infos += [R.ClientInfo(scheme, ident.partition(":")[0]) for scheme, ident in conn.auth_ids]
        return conn._reply(xid, 0, R.WhoAmIResponse(infos))
    rec = R.request_record(op).decode(r)
    try:
        return conn._reply(xid, 0, _path_read(conn, tree, op, rec))
    except _Fail as e:
        return conn._reply(xid, e.code)


class _Fail(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _node(tree: DataTree, path: str, ids: Ids, perm: int = Perms.READ) -> Node:
    """The node at `path` if this connection may read it (NONODE / NOAUTH otherwise)."""
    node = tree.get(path)
    if node is None:
        raise _Fail(ErrorCode.NONODE)
    if not acl.allowed(node.acl, perm, ids):
        raise _Fail(ErrorCode.NOAUTH)
    return node


def _path_read(conn: Connection, tree: DataTree, op: OpCode, rec: Any) -> Any:
    watches = conn.server.watches
    path = getattr(rec, "path", None) or ""  # kazoo sends "" as a null string
    ids = conn.ids
    if op == OpCode.exists:
        if "\0" in path:
            raise _Fail(ErrorCode.BADARGUMENTS)
        node = tree.get(path)  # no ACL check: ZooKeeper 3.8.0 answers exists for anyone
        if rec.watch:
            watches.add(conn, path, False)
        if node is None:
            raise _Fail(ErrorCode.NONODE)
        return R.ExistsResponse(node.stat())
    if op == OpCode.getData:
        node = _node(tree, path, ids)
        if rec.watch:
            watches.add(conn, path, False)
        return R.GetDataResponse(node.data, node.stat())
    if op in (OpCode.getChildren, OpCode.getChildren2):
        node = _node(tree, path, ids)
        if rec.watch:
            watches.add(conn, path, True)
        if op == OpCode.getChildren:
            return R.GetChildrenResponse(list(node.children))
        return R.GetChildren2Response(list(node.children), node.stat())
    if op == OpCode.getACL:
        node = _node(tree, path, ids, Perms.READ | Perms.ADMIN)
        shown = [R.ACL(perms, R.Id(scheme, ident))
                 for perms, scheme, ident in acl.shown_to(node.acl, ids)]
        return R.GetACLResponse(shown, node.stat())
    if op == OpCode.sync:
        return R.SyncResponse(path)
    if op == OpCode.getEphemerals:
        prefix = rec.prefixPath or "/"
        owned = tree.ephemerals.get(conn.session_id, ())
        return R.GetEphemeralsResponse(sorted(p for p in owned if p.startswith(prefix)))
    if op == OpCode.getAllChildrenNumber:
        _node(tree, path, ids)
        return R.GetAllChildrenNumberResponse(tree.subtree_count(path))
    if op == OpCode.addWatch:
        if rec.mode not in (0, 1):
            raise _Fail(ErrorCode.BADARGUMENTS)
        watches.add_persistent(conn, path, recursive=rec.mode == 1)
        return R.ErrorResponse(0)
    if op in (OpCode.checkWatches, OpCode.removeWatches):
        check = op == OpCode.checkWatches
        found = (watches.has if check else watches.remove)(conn, path, rec.type)
        if not found:
            raise _Fail(ErrorCode.NOWATCHER)
        return None
    raise _Fail(ErrorCode.UNIMPLEMENTED)


def _multi_read_one(tree: DataTree, code: int, rec: Any, ids: Ids) -> Any:
    try:
        node = _node(tree, rec.path or "", ids)
    except _Fail as e:
        return R.ErrorResult(e.code)
    if code == OpCode.getData:
        return R.GetDataResponse(node.data, node.stat())
    return R.GetChildrenResponse(list(node.children))


def _set_watches(conn: Connection, xid: int, op: OpCode, r: JuteReader) -> bytes:
    rec = R.request_record(op).decode(r)
    extra = {}
    if op == OpCode.setWatches2:
        extra = {"persistent": rec.persistentWatches or [],
                 "recursive": rec.persistentRecursiveWatches or []}
    notes = conn.server.watches.set_watches(
        conn, conn.server.tree, rec.relativeZxid, rec.dataWatches or [],
        rec.existWatches or [], rec.childWatches or [], **extra)
    for _, etype, path in notes:
        conn.send_event(etype, path)
    return conn._reply(xid)

