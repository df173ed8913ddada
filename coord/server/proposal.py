"""What an ensemble member logs and replicates: a Txn plus who is waiting for its reply.

A ZAB entry's bytes are a msgpack list ``[txn, origin, tag, err, multi_errors]``:

- ``txn`` the `Txn` as a list (exactly what the standalone log holds);
- ``origin`` the server id whose client sent the request (0: no client, e.g. expiry)
  and ``tag`` that server's number for the request, so the member holding the
  connection can fill the reply slot when it applies the entry;
- ``err`` / ``multi_errors`` the reply the leader's prep decided (a refused write is an
  ERROR txn; the per-op codes of a failed multi are not in the txn itself).

A forwarded write (follower -> leader, inside ZAB's REQUEST) is ``[tag, kind, args]``:
kind "op" (args = [session, op tuple, acl ids, time]), "create_session" ([session,
timeout, password, time]) or "close_session" ([session, time]).

This module is data only: it must never decide anything.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgpack

from coord.server.txn import Txn


class Proposal(NamedTuple):
    txn: Txn
    origin: int
    tag: int
    err: int
    multi_errors: list[int] | None

    @property
    def zxid(self) -> int:
        return self.txn.zxid

    def pack(self) -> bytes:
        return msgpack.packb([list(self.txn), self.origin, self.tag, self.err, self.multi_errors], use_bin_type=True)

    @classmethod
    def unpack(cls, raw: bytes) -> Proposal:
        txn, origin, tag, err, multi_errors = msgpack.unpackb(raw, raw=False)
        return cls(Txn.from_list(txn), origin, tag, err, multi_errors)


class Forwarded(NamedTuple):
    tag: int
    kind: str
    args: list[Any]

    def pack(self) -> bytes:
        return msgpack.packb([self.tag, self.kind, self.args], use_bin_type=True)

    @classmethod
    def unpack(cls, raw: bytes) -> Forwarded:
        # Tuples, as the local path builds them: prep compares ACL ids as tuples.
        tag, kind, args = msgpack.unpackb(raw, raw=False, use_list=False)
        if kind not in ("op", "create_session", "close_session"):
            raise ValueError(f"unknown forwarded request kind {kind!r}")
        return cls(tag, kind, args)
