"""The events a partition replica consumes and the actions it returns, as plain values.

These are the replication core's whole vocabulary: the fetch and OffsetsForLeaderEpoch
exchanges as the core sees them (decoded, no wire format), the controller's LeaderAndIsr
decisions, the ISR change the leader proposes, and produce completions. They must never
carry sockets, files or callbacks: a shell or a simulator moves them around.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

UNDEFINED_EPOCH = -1
UNDEFINED_OFFSET = -1
ACKS_ALL = -1


class ErrorCode(IntEnum):
    """Kafka's error codes, so a shell can put them on the wire unchanged."""

    NONE = 0
    OFFSET_OUT_OF_RANGE = 1
    NOT_LEADER_OR_FOLLOWER = 6
    REQUEST_TIMED_OUT = 7
    NOT_ENOUGH_REPLICAS = 19
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20
    FENCED_LEADER_EPOCH = 74
    UNKNOWN_LEADER_EPOCH = 75


@dataclass(frozen=True)
class Batch:
    """Records written together under one leader epoch; offsets base_offset..last_offset."""

    base_offset: int
    epoch: int
    records: tuple[object, ...]

    @property
    def last_offset(self) -> int:
        return self.base_offset + len(self.records) - 1


# ---- events -------------------------------------------------------------------------


@dataclass(frozen=True)
class BecomeLeader:
    """LeaderAndIsr naming this replica leader; `partition_version` guards ISR writes.

    `broker_epoch` is the addressee's registration the controller saw (KIP-380): an order
    meant for an earlier run of the broker is refused after a restart.
    """

    epoch: int
    isr: frozenset[int]
    replicas: tuple[int, ...]
    partition_version: int
    broker_epoch: int = 0


@dataclass(frozen=True)
class BecomeFollower:
    leader: int
    epoch: int
    broker_epoch: int = 0


@dataclass(frozen=True)
class Produce:
    request_id: int
    records: tuple[object, ...]
    acks: int
    timeout_ms: int


@dataclass(frozen=True)
class FetchRequest:
    """A follower's (replica_id >= 0) or consumer's (replica_id == -1) fetch."""

    replica_id: int
    leader_epoch: int
    fetch_offset: int
    max_batches: int = 16


@dataclass(frozen=True)
class FetchResponse:
    leader_epoch: int
    fetch_offset: int
    batches: tuple[Batch, ...]
    high_watermark: int
    error: ErrorCode = ErrorCode.NONE


@dataclass(frozen=True)
class EpochQuery:
    """OffsetsForLeaderEpoch: where does `epoch` end in the leader's log?"""

    replica_id: int
    leader_epoch: int
    epoch: int


@dataclass(frozen=True)
class EpochAnswer:
    leader_epoch: int
    epoch: int
    end_offset: int
    error: ErrorCode = ErrorCode.NONE


@dataclass(frozen=True)
class IsrChangeResult:
    """The coordination store's answer to one ProposeIsr conditional write (echoed whole,
    so a late answer to an earlier proposal is never taken for the current one).

    `accepted` must mean "the stored ISR is now the proposed one": a version conflict on a
    retried or duplicated write whose data is already stored is a success. The shell must
    always deliver an answer (retrying on connection loss): until one comes, the leader
    keeps counting the union of the old and proposed ISR and proposes nothing else.
    """

    proposal: ProposeIsr
    accepted: bool
    partition_version: int


@dataclass(frozen=True)
class Tick:
    """Time passed; timers (ISR lag check, fetch retry, produce timeout) are evaluated."""


Event = (
    BecomeLeader
    | BecomeFollower
    | Produce
    | FetchRequest
    | FetchResponse
    | EpochQuery
    | EpochAnswer
    | IsrChangeResult
    | Tick
)


# ---- actions ------------------------------------------------------------------------


@dataclass(frozen=True)
class SendFetch:
    leader: int
    request: FetchRequest


@dataclass(frozen=True)
class ReplyFetch:
    to: int
    response: FetchResponse


@dataclass(frozen=True)
class SendEpochQuery:
    leader: int
    query: EpochQuery


@dataclass(frozen=True)
class ReplyEpochQuery:
    to: int
    answer: EpochAnswer


@dataclass(frozen=True)
class ProposeIsr:
    """Write the ISR into the partition state if its version is still `expected_version`."""

    isr: frozenset[int]
    leader_epoch: int
    expected_version: int


@dataclass(frozen=True)
class CompleteProduce:
    request_id: int
    error: ErrorCode
    base_offset: int = UNDEFINED_OFFSET


Action = SendFetch | ReplyFetch | SendEpochQuery | ReplyEpochQuery | ProposeIsr | CompleteProduce
