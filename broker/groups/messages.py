"""The events one consumer group's coordinator consumes and the actions it returns, as values.

This is the group core's whole vocabulary: the classic group protocol's requests
(JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups)
as the core sees them, decoded, each with the `request_id` the shell answers on; the
outcome of a write to `__consumer_offsets` (`PersistDone`); and the timer (`Tick`).
Actions answer a request (`Reply`), ask for records to be appended (`Persist`) or ask to
be woken at a time (`ScheduleTick`). They must never carry sockets, files or callbacks:
a shell or a simulator moves them around.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum

from broker.groups.records import OffsetAndMetadata, Record

NO_GENERATION = -1
NO_MEMBER_ID = ""
UNKNOWN_OFFSET = -1


class ErrorCode(IntEnum):
    """Kafka's error codes, so a shell can put them on the wire unchanged."""

    NONE = 0
    UNKNOWN_TOPIC_OR_PARTITION = 3
    NOT_LEADER_OR_FOLLOWER = 6
    REQUEST_TIMED_OUT = 7
    OFFSET_METADATA_TOO_LARGE = 12
    COORDINATOR_LOAD_IN_PROGRESS = 14
    COORDINATOR_NOT_AVAILABLE = 15
    NOT_COORDINATOR = 16
    NOT_ENOUGH_REPLICAS = 19
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20
    ILLEGAL_GENERATION = 22
    INCONSISTENT_GROUP_PROTOCOL = 23
    UNKNOWN_MEMBER_ID = 25
    INVALID_SESSION_TIMEOUT = 26
    REBALANCE_IN_PROGRESS = 27
    NON_EMPTY_GROUP = 68
    GROUP_ID_NOT_FOUND = 69
    GROUP_SUBSCRIBED_TO_TOPIC = 86
    MEMBER_ID_REQUIRED = 79
    FENCED_INSTANCE_ID = 82


class GroupState(Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


TopicPartition = tuple[str, int]


# ---- events -------------------------------------------------------------------------


@dataclass(frozen=True)
class JoinGroup:
    """`protocols` are (assignor name, subscription bytes) in the member's preference order.

    `require_known_member_id` is JoinGroup v4+: a first join without a member id gets
    MEMBER_ID_REQUIRED and an id to rejoin with, so a client that times out on its
    first join does not leave an orphan member behind.
    """

    request_id: int
    member_id: str
    protocol_type: str
    protocols: tuple[tuple[str, bytes], ...]
    session_timeout_ms: int = 45_000
    rebalance_timeout_ms: int = 300_000
    group_instance_id: str | None = None
    client_id: str = "consumer"
    require_known_member_id: bool = False
    client_host: str = ""


@dataclass(frozen=True)
class SyncGroup:
    """Everyone sends one; only the leader's `assignments` (member id -> bytes) count.

    `protocol_type` and `protocol_name` (SyncGroup v5+) must match the group's when given."""

    request_id: int
    member_id: str
    generation_id: int
    assignments: tuple[tuple[str, bytes], ...] = ()
    group_instance_id: str | None = None
    protocol_type: str | None = None
    protocol_name: str | None = None


@dataclass(frozen=True)
class Heartbeat:
    request_id: int
    member_id: str
    generation_id: int
    group_instance_id: str | None = None


@dataclass(frozen=True)
class MemberIdentity:
    """A leaving member: by member id, or (static members, KIP-345) by instance id."""

    member_id: str
    group_instance_id: str | None = None


@dataclass(frozen=True)
class LeaveGroup:
    request_id: int
    members: tuple[MemberIdentity, ...]


@dataclass(frozen=True)
class OffsetCommit:
    """Generation -1 with member id "" is a simple (non-group) commit: Empty groups only."""

    request_id: int
    member_id: str
    generation_id: int
    offsets: tuple[tuple[TopicPartition, OffsetAndMetadata], ...]
    group_instance_id: str | None = None


@dataclass(frozen=True)
class OffsetFetch:
    """`partitions` None means every partition the group has committed."""

    request_id: int
    partitions: tuple[TopicPartition, ...] | None = None


@dataclass(frozen=True)
class DescribeGroup:
    request_id: int


@dataclass(frozen=True)
class DeleteGroup:
    """DeleteGroups for this group: only an Empty group may go (its offsets go with it)."""

    request_id: int


@dataclass(frozen=True)
class DeleteOffsets:
    """OffsetDelete (KIP-496): drop these partitions' committed offsets, except on topics a
    live consumer-protocol member subscribes to."""

    request_id: int
    partitions: tuple[TopicPartition, ...]


@dataclass(frozen=True)
class PersistDone:
    """The append of one `Persist` finished: `error` NONE once replicated (acks=all)."""

    persist_id: int
    error: ErrorCode = ErrorCode.NONE


@dataclass(frozen=True)
class Tick:
    """Time passed: session, rebalance, sync and retention deadlines are evaluated."""


Event = (
    JoinGroup
    | SyncGroup
    | Heartbeat
    | LeaveGroup
    | OffsetCommit
    | OffsetFetch
    | DescribeGroup
    | DeleteGroup
    | DeleteOffsets
    | PersistDone
    | Tick
)


# ---- responses ----------------------------------------------------------------------


@dataclass(frozen=True)
class JoinMember:
    member_id: str
    group_instance_id: str | None
    metadata: bytes


@dataclass(frozen=True)
class JoinResult:
    """`members` is filled for the leader only: every member's subscription to assign."""

    error: ErrorCode
    member_id: str = NO_MEMBER_ID
    generation_id: int = NO_GENERATION
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str = NO_MEMBER_ID
    members: tuple[JoinMember, ...] = ()


@dataclass(frozen=True)
class SyncResult:
    error: ErrorCode
    assignment: bytes = b""
    protocol_type: str | None = None
    protocol_name: str | None = None


@dataclass(frozen=True)
class HeartbeatResult:
    error: ErrorCode


@dataclass(frozen=True)
class LeaveResult:
    error: ErrorCode
    members: tuple[tuple[MemberIdentity, ErrorCode], ...] = ()


@dataclass(frozen=True)
class OffsetCommitResult:
    error: ErrorCode
    partitions: tuple[tuple[TopicPartition, ErrorCode], ...] = ()


@dataclass(frozen=True)
class OffsetFetchResult:
    """Unknown partitions come back as UNKNOWN_OFFSET, as in Kafka."""

    error: ErrorCode
    offsets: tuple[tuple[TopicPartition, OffsetAndMetadata], ...] = ()


@dataclass(frozen=True)
class DeleteGroupResult:
    error: ErrorCode


@dataclass(frozen=True)
class DeleteOffsetsResult:
    """`error` for the group; per partition NONE or GROUP_SUBSCRIBED_TO_TOPIC."""

    error: ErrorCode
    partitions: tuple[tuple[TopicPartition, ErrorCode], ...] = ()


@dataclass(frozen=True)
class MemberDescription:
    member_id: str
    group_instance_id: str | None
    client_id: str
    metadata: bytes
    assignment: bytes
    client_host: str = ""


@dataclass(frozen=True)
class GroupDescription:
    error: ErrorCode
    state: GroupState
    protocol_type: str | None
    protocol_name: str | None
    generation_id: int
    members: tuple[MemberDescription, ...] = field(default=())


Response = (
    JoinResult
    | SyncResult
    | HeartbeatResult
    | LeaveResult
    | OffsetCommitResult
    | OffsetFetchResult
    | GroupDescription
    | DeleteGroupResult
    | DeleteOffsetsResult
)


# ---- actions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    request_id: int
    response: Response


@dataclass(frozen=True)
class Persist:
    """Append `records` to the group's `__consumer_offsets` partition, in order, and
    report with `PersistDone(persist_id)`. The core answers waiting requests only then."""

    persist_id: int
    records: tuple[Record, ...]


@dataclass(frozen=True)
class ScheduleTick:
    """Deliver a `Tick` at `at_ms` (replaces any earlier schedule); None: no timer needed."""

    at_ms: int | None


Action = Reply | Persist | ScheduleTick
