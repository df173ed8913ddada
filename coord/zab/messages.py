"""Peer-to-peer ZAB messages and their msgpack form (one frame = one message).

Every message except the election notification and FOLLOWERINFO carries the epoch it
belongs to, so a receiver can drop anything from an epoch it has left without
looking further. The wire form is a msgpack array ``[type code, field, ...]`` in field
order. This module must never hold protocol logic: it only says what is in a message.

UPTODATE has no message of its own: the leader's PING carries an ``uptodate`` flag,
so a lost UPTODATE is repaired by the next heartbeat.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import msgpack

# (zxid, txn bytes); zxid = epoch << 32 | counter.
Entry = tuple[int, bytes]

LOOKING, FOLLOWING, LEADING = 0, 1, 2


class MessageError(ValueError):
    """A peer frame that is not a ZAB message this version understands."""


@dataclass(frozen=True, slots=True)
class Notification:
    """Fast leader election vote. For FOLLOWING/LEADING senders the vote names the
    established leader as (epoch, 0, leader id)."""

    round: int
    state: int
    vote_epoch: int
    vote_zxid: int
    vote_id: int


@dataclass(frozen=True, slots=True)
class FollowerInfo:
    """Follower -> chosen leader: start of discovery."""

    accepted_epoch: int
    last_zxid: int


@dataclass(frozen=True, slots=True)
class LeaderInfo:
    """Leader -> follower: the new epoch proposed for acceptance."""

    epoch: int


@dataclass(frozen=True, slots=True)
class AckEpoch:
    """Follower -> leader: new epoch accepted; here is my history's position."""

    epoch: int
    current_epoch: int
    last_zxid: int


@dataclass(frozen=True, slots=True)
class SyncHeader:
    """Leader -> follower: item 0 of a synchronization stream (ZooKeeper's DIFF, TRUNC
    or SNAP packet). mode "TRUNC" drops entries above trunc_zxid; "SNAP" announces a
    snapshot at snap_zxid of snap_size bytes, which the next items carry in chunks.

    A stream is numbered `stream` (unique within the leader's epoch); its items carry
    consecutive `seq` numbers and the follower takes them strictly in order, so the
    leader can resend from the follower's position after a loss (go-back-N)."""

    epoch: int
    stream: int
    mode: str
    trunc_zxid: int
    snap_zxid: int
    snap_size: int


@dataclass(frozen=True, slots=True)
class SnapChunk:
    """Leader -> follower: bytes [offset, offset + len(data)) of the announced snapshot."""

    epoch: int
    stream: int
    seq: int
    offset: int
    data: bytes


@dataclass(frozen=True, slots=True)
class SyncDiff:
    """Leader -> follower: the next consecutive proposals of the leader's history."""

    epoch: int
    stream: int
    seq: int
    entries: list[Entry]


@dataclass(frozen=True, slots=True)
class NewLeader:
    """Leader -> follower: the last item of a stream. The follower now holds the
    leader's history up to last_zxid; `commit_zxid` of it is committed."""

    epoch: int
    stream: int
    seq: int
    last_zxid: int
    commit_zxid: int


@dataclass(frozen=True, slots=True)
class SyncAck:
    """Follower -> leader: it holds every item of `stream` below `next_seq` (flow
    control, and the keepalive of a follower that is synchronizing)."""

    epoch: int
    stream: int
    next_seq: int


@dataclass(frozen=True, slots=True)
class Proposal:
    """Leader -> follower: a batch of consecutive proposals of this epoch."""

    epoch: int
    entries: list[Entry]


@dataclass(frozen=True, slots=True)
class Ack:
    """Follower -> leader: everything up to zxid is durable here (cumulative). Also the
    answer to PING, carrying the sessions clients touched on this follower."""

    epoch: int
    zxid: int
    touches: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Commit:
    """Leader -> follower: everything up to zxid is committed (cumulative)."""

    epoch: int
    zxid: int


@dataclass(frozen=True, slots=True)
class Ping:
    """Leader heartbeat; `uptodate` is ZooKeeper's UPTODATE (start serving clients)."""

    epoch: int
    commit_zxid: int
    uptodate: bool


@dataclass(frozen=True, slots=True)
class Request:
    """Follower -> leader: a client write forwarded for the leader to order."""

    epoch: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """Follower -> leader: a client asked for `sync`; `tag` names that request."""

    epoch: int
    tag: int


@dataclass(frozen=True, slots=True)
class SyncReply:
    """Leader -> follower: everything up to zxid has been proposed; once the follower
    has applied it, the sync tagged `tag` is answered."""

    epoch: int
    tag: int
    zxid: int


Message = (
    Notification
    | FollowerInfo
    | LeaderInfo
    | AckEpoch
    | SyncHeader
    | SnapChunk
    | SyncDiff
    | NewLeader
    | SyncAck
    | Proposal
    | Ack
    | Commit
    | Ping
    | Request
    | SyncRequest
    | SyncReply
)

_TYPES: tuple[type, ...] = (
    Notification,
    FollowerInfo,
    LeaderInfo,
    AckEpoch,
    SyncHeader,
    SnapChunk,
    SyncDiff,
    NewLeader,
    SyncAck,
    Proposal,
    Ack,
    Commit,
    Ping,
    Request,
    SyncRequest,
    SyncReply,
)
_CODE = {cls: code for code, cls in enumerate(_TYPES)}
_ENTRY_FIELDS = {"entries"}


def encode(msg: Message) -> bytes:
    """One message as one msgpack frame body."""
    values: list[Any] = [_CODE[type(msg)]]
    values.extend(getattr(msg, f.name) for f in dataclasses.fields(msg))
    frame: bytes = msgpack.packb(values, use_bin_type=True)
    return frame


def decode(data: bytes) -> Message:
    """Inverse of `encode`; raises MessageError on anything malformed."""
    try:
        values = msgpack.unpackb(data, raw=False)
        cls = _TYPES[values[0]]
        names = [f.name for f in dataclasses.fields(cls)]
        kwargs = dict(zip(names, values[1:], strict=True))
    except (ValueError, TypeError, IndexError, KeyError, msgpack.UnpackException) as exc:
        raise MessageError(f"undecodable ZAB peer frame ({len(data)} bytes): {exc}") from exc
    for name in _ENTRY_FIELDS.intersection(kwargs):
        kwargs[name] = [(int(z), bytes(d)) for z, d in kwargs[name]]
    message: Message = cls(**kwargs)
    return message
