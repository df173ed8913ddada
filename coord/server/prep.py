"""The prep step: a write request becomes a transaction, or a ZooKeeper error code.

This is ZooKeeper's PrepRequestProcessor: it runs on the leader (in standalone mode, the
only server), checks a request against the tree *as it will be once every transaction
already handed out is applied*, and turns it into a deterministic `Txn` with the next
zxid. The look-ahead is `PrepView`: the applied tree plus an overlay of changes made by
prepared-but-not-yet-applied transactions (ZooKeeper's outstandingChanges), dropped as
the tree catches up. Checks run in ZooKeeper's order so that the first error reported for
a bad request is the same one ZooKeeper reports.

A refused write still becomes a transaction (kind ERROR), consuming a zxid, as in
ZooKeeper; so every write request maps to exactly one txn and replies stay in order.

It must never change the tree, do I/O or read the clock (time is passed in).
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any, NamedTuple

from coord.protocol.errors import ErrorCode
from coord.protocol.opcodes import OpCode, Perms
from coord.server import txn as T
from coord.server.acl import AclError, Ids, check, fixup_acl
from coord.server.datatree import RESERVED, DataTree, parent_of
from coord.server.txn import Txn

# Error codes and opcodes come from the codec, so the numbers exist once.
OK = ErrorCode.OK
RUNTIMEINCONSISTENCY = ErrorCode.RUNTIMEINCONSISTENCY
UNIMPLEMENTED = ErrorCode.UNIMPLEMENTED
BADARGUMENTS = ErrorCode.BADARGUMENTS
NONODE = ErrorCode.NONODE
BADVERSION = ErrorCode.BADVERSION
NOCHILDRENFOREPHEMERALS = ErrorCode.NOCHILDRENFOREPHEMERALS
NODEEXISTS = ErrorCode.NODEEXISTS
NOTEMPTY = ErrorCode.NOTEMPTY

OP_CREATE, OP_DELETE, OP_SET_DATA = OpCode.create, OpCode.delete, OpCode.setData
OP_SET_ACL, OP_CHECK, OP_MULTI = OpCode.setACL, OpCode.check, OpCode.multi
OP_CREATE2, OP_CREATE_CONTAINER = OpCode.create2, OpCode.createContainer
OP_DELETE_CONTAINER, OP_CREATE_TTL = OpCode.deleteContainer, OpCode.createTTL
CREATE_OPS = frozenset({OP_CREATE, OP_CREATE2, OP_CREATE_CONTAINER, OP_CREATE_TTL})
WRITE_OPS = CREATE_OPS | {OP_DELETE, OP_SET_DATA, OP_SET_ACL, OP_CHECK, OP_MULTI, OP_DELETE_CONTAINER}

# CreateMode flags -> (ephemeral, sequential, container, ttl)
MODES = {
    0: (False, False, False, False),
    1: (True, False, False, False),
    2: (False, True, False, False),
    3: (True, True, False, False),
    4: (False, False, True, False),
    5: (False, False, False, True),
    6: (False, True, False, True),
}

_BAD_CHARS = re.compile("[\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff]")


class PrepError(Exception):
    """A request ZooKeeper would refuse; `code` is the KeeperException code."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message or str(code))
        self.code = code


class Prepared(NamedTuple):
    """A prepared write: the txn to log, its reply error, and per-op errors of a multi."""

    txn: Txn
    err: int
    multi_errors: list[int] | None


def is_valid_path(path: str) -> bool:
    """ZooKeeper's PathUtils.validatePath, as a predicate."""
    if not path or path[0] != "/":
        return False
    if path == "/":
        return True
    if path[-1] == "/" or _BAD_CHARS.search(path):
        return False
    return all(part not in ("", ".", "..") for part in path[1:].split("/"))


def validate_path(path: str) -> None:
    if not is_valid_path(path):
        raise PrepError(BADARGUMENTS, f"invalid path {path!r}")


class Rec:
    """What prep needs to know of a node: a copy-on-write view of a tree Node."""

    __slots__ = ("version", "aversion", "seq", "nchildren", "owner", "mtime", "acl")

    def __init__(
        self, version: int, aversion: int, seq: int, nchildren: int, owner: int, mtime: int, acl: list
    ) -> None:
        self.version, self.aversion, self.seq = version, aversion, seq
        self.nchildren, self.owner, self.mtime, self.acl = nchildren, owner, mtime, acl

    def copy(self) -> Rec:
        return Rec(self.version, self.aversion, self.seq, self.nchildren, self.owner, self.mtime, self.acl)


class PrepView:
    """The applied tree plus the changes of transactions prepared but not yet applied."""

    def __init__(self, tree: DataTree, max_data: int = 1 << 20) -> None:
        self.tree = tree
        self.max_data = max_data
        self.next_zxid = tree.last_zxid + 1
        # path -> (zxid of the txn that made the change, record or None if deleted)
        self.changes: dict[str, tuple[int, Rec | None]] = {}
        # (zxid, paths it changed) in zxid order, so `applied` touches only those paths
        self._by_zxid: deque[tuple[int, list[str]]] = deque()

    def lookup(self, path: str, local: dict[str, Rec | None]) -> Rec | None:
        if path in local:
            return local[path]
        hit = self.changes.get(path)
        if hit is not None:
            return hit[1]
        node = self.tree.nodes.get(path)
        if node is None:
            return None
        return Rec(node.version, node.aversion, node.seq, len(node.children), node.owner, node.mtime, node.acl)

    def applied(self, zxid: int) -> None:
        """The tree has applied everything up to `zxid`: forget changes it now shows."""
        by_zxid, changes = self._by_zxid, self.changes
        while by_zxid and by_zxid[0][0] <= zxid:
            done, paths = by_zxid.popleft()
            for p in paths:
                hit = changes.get(p)
                if hit is not None and hit[0] == done:
                    del changes[p]

    def session_ephemerals(self, session: int) -> list[str]:
        paths = set(self.tree.ephemerals.get(session, ()))
        for path, (_, rec) in self.changes.items():
            if rec is None:
                paths.discard(path)
            elif rec.owner == session:
                paths.add(path)
        return sorted(paths)

    # -- entry points ------------------------------------------------------------------

    def prepare(self, session: int, op: tuple, now: int, ids: Ids | None = None) -> Prepared:
        """Turn one write request (see `_prep_op` for the tuple shapes) into a txn; `ids`: the
        session's authenticated identities (none by default)."""
        ids = [] if ids is None else ids
        zxid = self.next_zxid
        self.next_zxid += 1
        local: dict[str, Rec | None] = {}
        if op[0] == OP_MULTI:
            return self._prepare_multi(zxid, session, op[1], now, ids)
        try:
            kind, body = self._prep_op(session, op, now, ids, local)
        except (PrepError, AclError) as e:
            return Prepared(Txn(zxid, now, session, T.ERROR, [e.code]), e.code, None)
        self._commit_local(zxid, local)
        return Prepared(Txn(zxid, now, session, kind, body), OK, None)

    def _prepare_multi(self, zxid: int, session: int, ops: list[tuple], now: int, ids: Ids) -> Prepared:
        local: dict[str, Rec | None] = {}
        subs: list[list[Any]] = []
        for index, op in enumerate(ops):
            try:
                if op[0] not in WRITE_OPS or op[0] == OP_MULTI:
                    raise PrepError(UNIMPLEMENTED, f"op {op[0]} is not allowed in multi")
                kind, body = self._prep_op(session, op, now, ids, local)
            except (PrepError, AclError) as e:
                errors = [OK] * index + [e.code] + [RUNTIMEINCONSISTENCY] * (len(ops) - index - 1)
                return Prepared(Txn(zxid, now, session, T.ERROR, [e.code]), OK, errors)
            subs.append([kind, body])
        self._commit_local(zxid, local)
        return Prepared(Txn(zxid, now, session, T.MULTI, subs), OK, None)

    def close_session(self, session: int, now: int) -> Txn:
        """The txn that ends `session` (closeSession or expiry) and its ephemerals."""
        zxid = self.next_zxid
        self.next_zxid += 1
        paths = self.session_ephemerals(session)
        local: dict[str, Rec | None] = {}
        for path in paths:
            self._mark_deleted(path, local)
        self._commit_local(zxid, local)
        return Txn(zxid, now, session, T.CLOSE_SESSION, [session, paths])

    def create_session(self, session: int, timeout: int, password: bytes, now: int) -> Txn:
        zxid = self.next_zxid
        self.next_zxid += 1
        return Txn(zxid, now, session, T.CREATE_SESSION, [session, timeout, password])

    def _commit_local(self, zxid: int, local: dict[str, Rec | None]) -> None:
        if not local:
            return
        for path, rec in local.items():
            self.changes[path] = (zxid, rec)
        self._by_zxid.append((zxid, list(local)))

    # -- single ops ----------------------------------------------------------------------

    def _prep_op(
        self, session: int, op: tuple, now: int, ids: Ids, local: dict[str, Rec | None]
    ) -> tuple[int, list[Any]]:
        code = op[0]
        if code in CREATE_OPS:
            return self._prep_create(session, op, ids, local)
        if code in (OP_DELETE, OP_DELETE_CONTAINER):
            return self._prep_delete(op, ids, local)
        if code == OP_SET_DATA:
            _, path, data, version = op
            validate_path(path)
            self._check_size(data)
            rec = self._checked(path, local, ids, Perms.WRITE, "version", version)
            rec.version += 1
            rec.mtime = now
            return T.SET_DATA, [path, data]
        if code == OP_SET_ACL:
            _, path, acl, version = op
            validate_path(path)
            acl = fixup_acl(acl, ids)
            rec = self._checked(path, local, ids, Perms.ADMIN, "aversion", version)
            rec.aversion += 1
            rec.acl = acl
            return T.SET_ACL, [path, acl]
        if code == OP_CHECK:
            _, path, version = op
            validate_path(path)
            self._checked(path, local, ids, Perms.READ, "version", version)
            return T.CHECK, [path]
        raise PrepError(UNIMPLEMENTED, f"opcode {code} is not a write")

    def _prep_create(self, session: int, op: tuple, ids: Ids, local: dict[str, Rec | None]) -> tuple[int, list[Any]]:
        code, path, data, acl, flags, ttl = op
        mode = MODES.get(flags)
        if mode is None:
            raise PrepError(BADARGUMENTS, f"unknown create flags {flags}")
        ephemeral, sequential, container, is_ttl = mode
        ttl = ttl if code == OP_CREATE_TTL else -1
        if is_ttl and not 0 < ttl <= T.MAX_TTL:
            raise PrepError(BADARGUMENTS, f"ttl {ttl} is out of range 1..{T.MAX_TTL}")
        if not is_ttl and ttl >= 0:
            raise PrepError(BADARGUMENTS, "a ttl is only allowed with a TTL create mode")
        last_slash = path.rfind("/")
        if last_slash == -1 or "\0" in path:
            raise PrepError(BADARGUMENTS, f"invalid path {path!r}")
        self._check_size(data)
        acl = fixup_acl(acl, ids)
        parent_path = path[:last_slash] or "/"
        parent = self.lookup(parent_path, local)
        if parent is None:
            raise PrepError(NONODE, f"parent {parent_path} does not exist")
        check(parent.acl, Perms.CREATE, ids, parent_path)
        if sequential:
            path = f"{path}{parent.seq:010d}"
        validate_path(path)
        if self.lookup(path, local) is not None:
            raise PrepError(NODEEXISTS, f"{path} already exists")
        if T.is_ephemeral_owner(parent.owner):
            raise PrepError(NOCHILDRENFOREPHEMERALS, f"{parent_path} is ephemeral")
        owner = session if ephemeral else T.CONTAINER_OWNER if container else (T.ttl_owner(ttl) if is_ttl else 0)
        parent = local[parent_path] = parent.copy()
        parent.seq += 1
        parent.nchildren += 1
        local[path] = Rec(0, 0, 0, 0, owner, 0, acl)
        return T.CREATE, [path, data, acl, owner]

    def _prep_delete(self, op: tuple, ids: Ids, local: dict[str, Rec | None]) -> tuple[int, list[Any]]:
        code, path, version = op
        last_slash = path.rfind("/")
        if last_slash == -1 or "\0" in path or path in RESERVED:
            raise PrepError(BADARGUMENTS, f"cannot delete {path!r}")
        parent_path = path[:last_slash] or "/"
        parent = self.lookup(parent_path, local)
        if parent is None:
            raise PrepError(NONODE, f"{path} does not exist")
        rec = self._existing(path, local)
        if code == OP_DELETE:  # the server's own container cleanup is not a client
            check(parent.acl, Perms.DELETE, ids, parent_path)
        self._check_version(rec.version, version, path)
        if rec.nchildren > 0:
            raise PrepError(NOTEMPTY, f"{path} has children")
        self._mark_deleted(path, local)
        kind = T.DELETE_CONTAINER if code == OP_DELETE_CONTAINER else T.DELETE
        return kind, [path]

    def _mark_deleted(self, path: str, local: dict[str, Rec | None]) -> None:
        parent_path = parent_of(path)
        parent = self.lookup(parent_path, local)
        if parent is not None:
            parent = local[parent_path] = parent.copy()
            parent.nchildren -= 1
        local[path] = None

    def _checked(self, path: str, local: dict[str, Rec | None], ids: Ids, perm: int, field: str, expected: int) -> Rec:
        """The node's record, copied into `local` for changing, once it exists, the caller
        holds `perm` and `field` (version or aversion) matches `expected`; ZooKeeper's
        order of checks."""
        rec = self._existing(path, local)
        check(rec.acl, perm, ids, path)
        self._check_version(getattr(rec, field), expected, path)
        rec = local[path] = rec.copy()
        return rec

    def _existing(self, path: str, local: dict[str, Rec | None]) -> Rec:
        rec = self.lookup(path, local)
        if rec is None:
            raise PrepError(NONODE, f"{path} does not exist")
        return rec

    def _check_size(self, data: bytes | None) -> None:
        if data is not None and len(data) > self.max_data:
            raise PrepError(
                BADARGUMENTS, f"data of {len(data)} bytes is over the {self.max_data}-byte limit (max_data_bytes)"
            )

    @staticmethod
    def _check_version(current: int, expected: int, path: str) -> None:
        if expected != -1 and expected != current:
            raise PrepError(BADVERSION, f"{path} is at version {current}, not {expected}")
