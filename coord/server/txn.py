"""Transactions: the only way the data tree ever changes.

A transaction is produced by the prep step (`coord.server.prep`) on the leader's view of
the tree, logged durably (`coord.server.txnlog`), and then applied in zxid order by
`DataTree.apply` on every server. Its msgpack form is what travels in the transaction
log and, later, in ZAB proposals, so it must stay a plain list of msgpack types.

This module must never look at the tree or the clock: a Txn is data, nothing more.

Msgpack form: ``[zxid, time_ms, session_id, kind, body]``; ``body`` per kind:

=================  ============================================================
kind               body
=================  ============================================================
CREATE (1)         ``[path, data|None, acl, owner]`` (owner = raw ephemeralOwner,
                   with the container / TTL markers)
DELETE (2)         ``[path]``
SET_DATA (5)       ``[path, data|None]``
SET_ACL (7)        ``[path, acl]``
CHECK (13)         ``[path]`` (only inside MULTI; changes nothing)
MULTI (14)         ``[[kind, body], ...]`` (applied under the one zxid)
DELETE_CONTAINER   ``[path]`` (20; background container / TTL cleanup)
CREATE_SESSION     ``[session_id, timeout_ms, password]`` (-10)
CLOSE_SESSION      ``[session_id, [ephemeral paths]]`` (-11; close or expiry)
ERROR (-1)         ``[err]`` (a refused write: consumes a zxid, changes nothing,
                   exactly as ZooKeeper logs an ErrorTxn)
=================  ============================================================

ACLs are lists of ``[perms, scheme, id]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import msgpack

CREATE = 1
DELETE = 2
SET_DATA = 5
SET_ACL = 7
CHECK = 13
MULTI = 14
DELETE_CONTAINER = 20
CREATE_SESSION = -10
CLOSE_SESSION = -11
ERROR = -1

KINDS = frozenset(
    {CREATE, DELETE, SET_DATA, SET_ACL, CHECK, MULTI, DELETE_CONTAINER, CREATE_SESSION, CLOSE_SESSION, ERROR}
)

# Raw ephemeralOwner markers (never shown to clients, who see 0 for both).
CONTAINER_OWNER = -0x8000000000000000  # 0x8000000000000000 as a signed long
TTL_OWNER_BASE = -0x0100000000000000  # 0xFF00000000000000 as a signed long
MAX_TTL = (1 << 40) - 1


def ttl_owner(ttl_ms: int) -> int:
    """The raw owner that marks a TTL node (0xFF in the top byte, the TTL below)."""
    return TTL_OWNER_BASE | ttl_ms


def ttl_of(owner: int) -> int | None:
    """The TTL in ms if `owner` marks a TTL node, else None."""
    if owner != CONTAINER_OWNER and (owner >> 56) == -1:
        return owner & MAX_TTL
    return None


def is_ephemeral_owner(owner: int) -> bool:
    """True if `owner` is a real session id (not 0, not a container or TTL marker)."""
    return owner != 0 and owner != CONTAINER_OWNER and ttl_of(owner) is None


class Txn(NamedTuple):
    zxid: int
    time: int
    session: int
    kind: int
    body: list[Any]

    def pack(self) -> bytes:
        return msgpack.packb(list(self), use_bin_type=True)

    @classmethod
    def unpack(cls, raw: bytes) -> Txn:
        return cls.from_list(msgpack.unpackb(raw, raw=False))

    @classmethod
    def from_list(cls, item: list[Any]) -> Txn:
        zxid, time, session, kind, body = item
        if kind not in KINDS:
            raise ValueError(f"unknown transaction kind {kind}")
        return cls(zxid, time, session, kind, body)


def make_zxid(epoch: int, counter: int) -> int:
    """zxid = epoch in the high 32 bits, counter in the low 32 bits."""
    return (epoch << 32) | counter


# Called once a txn is applied: (txn, per-op results).
Applied = Callable[[Txn, list[Any]], None]
