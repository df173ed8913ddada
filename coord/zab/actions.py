"""What a `Peer` asks its shell to do, in the order it must be done.

Ordering contract: the shell carries out the actions of one `ready()` batch in list
order. `PersistEpochs`, `TruncateLog` and `InstallSnapshot` must be durable before the
shell moves on to the next action (they are rare); `SendSnapshotChunk` is a `Send`
whose bytes the shell reads first, in order with the other sends to that follower;
`StageSnapshot` need not be durable (`InstallSnapshot` makes it so); `AppendLog` may complete
later, and the shell reports completion with `Peer.persisted(zxid)`, because the core
never acknowledges an entry that is not durable. This module holds no logic.
"""

from __future__ import annotations

from dataclasses import dataclass

from coord.zab.log import SnapshotImage
from coord.zab.messages import Entry, Message


@dataclass(frozen=True, slots=True)
class Send:
    to: int
    msg: Message


@dataclass(frozen=True, slots=True)
class PersistEpochs:
    """Write acceptedEpoch / currentEpoch durably before continuing."""

    accepted_epoch: int
    current_epoch: int


@dataclass(frozen=True, slots=True)
class AppendLog:
    """Append to the transaction log; call `persisted(last zxid)` once fsynced."""

    entries: list[Entry]


@dataclass(frozen=True, slots=True)
class TruncateLog:
    """Drop every log entry above zxid, durably, before continuing."""

    zxid: int


@dataclass(frozen=True, slots=True)
class SendSnapshotChunk:
    """Read `size` bytes at `offset` of `image` and send them to `to` as
    SnapChunk(epoch, stream, seq, offset, data)."""

    to: int
    image: SnapshotImage
    epoch: int
    stream: int
    seq: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class StageSnapshot:
    """Write a chunk of the snapshot at zxid being received; offset 0 starts it over."""

    zxid: int
    offset: int
    data: bytes


@dataclass(frozen=True, slots=True)
class InstallSnapshot:
    """Replace state machine and log with the staged snapshot (`size` bytes, at zxid),
    durably, before continuing."""

    zxid: int
    size: int


@dataclass(frozen=True, slots=True)
class Apply:
    """A committed transaction, in zxid order, each exactly once per incarnation."""

    zxid: int
    data: bytes


@dataclass(frozen=True, slots=True)
class RoleChanged:
    role: str
    epoch: int
    leader: int | None


@dataclass(frozen=True, slots=True)
class Serving:
    """Start (True) or stop (False) serving clients: disconnect them on False."""

    on: bool


@dataclass(frozen=True, slots=True)
class ForwardedRequest:
    """A write a follower forwarded; the leader's shell decides whether to propose it."""

    origin: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class SessionTouches:
    """Sessions that showed life on a follower; the leader owns their expiry."""

    origin: int
    sessions: list[int]


@dataclass(frozen=True, slots=True)
class SyncReady:
    """The sync tagged `tag` may be answered once everything up to zxid is applied."""

    tag: int
    zxid: int


Action = (
    Send
    | PersistEpochs
    | AppendLog
    | TruncateLog
    | SendSnapshotChunk
    | StageSnapshot
    | InstallSnapshot
    | Apply
    | RoleChanged
    | Serving
    | ForwardedRequest
    | SessionTouches
    | SyncReady
)
