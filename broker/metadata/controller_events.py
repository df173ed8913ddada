"""What the controller core hears, as plain values: coord watches and results, requests.

The asyncio shell (`controller.py`) turns coord watches, coord results and admin or
broker requests into these; the simulator (`tests/sim/controller_cluster.py`) makes
them from its model of coord. A request carries a `request_id` that the core's `Reply`
answers. They must never carry sockets, futures or callbacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from broker.metadata.znodes import PartitionState

TopicPartition = tuple[str, int]


@dataclass(frozen=True)
class TopicView:
    """A topic as coord holds it: assignment (partition -> replicas), configs, states."""

    name: str
    assignment: Mapping[int, tuple[int, ...]]
    configs: Mapping[str, str] = field(default_factory=dict)
    states: Mapping[int, PartitionState] = field(default_factory=dict)


# -- the /controller race and the epoch -------------------------------------------------


@dataclass(frozen=True)
class ControllerVacant:
    """/controller is (or may be) free: at start, or its watch fired."""


@dataclass(frozen=True)
class EpochWon:
    """This broker created /controller and bumped /controller_epoch to `epoch`, which now
    has zkVersion `zk_version` (every later write checks it). The metadata was re-read
    just before, so the core's view is the takeover's."""

    epoch: int
    zk_version: int
    request_id: int = 0


@dataclass(frozen=True)
class RaceLost:
    """Another live broker (`holder`, -1 if unknown) holds /controller; we stand by."""

    holder: int


@dataclass(frozen=True)
class EpochLost:
    """Our coord session is in doubt or gone, or we are stopping: stop acting at once."""


# -- the metadata, as the store reads it --------------------------------------------------


@dataclass(frozen=True)
class BrokersChanged:
    """The registered brokers now: id -> broker epoch (czxid), and each one's rack."""

    epochs: Mapping[int, int]
    racks: Mapping[int, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicLoaded:
    topic: TopicView


@dataclass(frozen=True)
class TopicGone:
    name: str


@dataclass(frozen=True)
class StateChanged:
    """A partition-state znode was re-read (a leader's ISR change, or anyone's write)."""

    topic: str
    partition: int
    state: PartitionState


@dataclass(frozen=True)
class Reloaded:
    """The topics a `Reload` named were re-read (their TopicLoaded/TopicGone came first)."""

    token: int


# -- conditional-write results -------------------------------------------------------------


class Failure(Enum):
    CONFLICT = "conflict"  # a state or topic znode's version moved (someone else wrote)
    FENCED = "fenced"  # /controller_epoch moved: another broker is controller now
    EXISTS = "exists"  # a znode to create is there already (the topic exists)
    ERROR = "error"  # coord unreachable or the session in doubt


@dataclass(frozen=True)
class WriteDone:
    """The write `write_id` committed; `versions` are the new zkVersions of the states
    written, in the order the action listed them."""

    write_id: int
    versions: tuple[int, ...] = ()


@dataclass(frozen=True)
class WriteFailed:
    write_id: int
    failure: Failure


# -- what brokers say back ---------------------------------------------------------------------


@dataclass(frozen=True)
class LeaderAndIsrAnswered:
    """A broker's per-partition answer: replicas on a failed disk (KAFKA_STORAGE_ERROR)
    and replicas it applied (NONE)."""

    broker: int
    storage_errors: frozenset[TopicPartition]
    applied: frozenset[TopicPartition]


@dataclass(frozen=True)
class LogDirFailed:
    """These brokers wrote log-dir event nodes (one of their disks failed)."""

    brokers: frozenset[int]


# -- requests ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateTopic:
    request_id: int
    name: object
    num_partitions: object
    replication_factor: object
    configs: object
    validate_only: bool = False
    assignment: Mapping[int, list[int]] | None = None


@dataclass(frozen=True)
class CreatePartitions:
    request_id: int
    name: object
    count: object
    validate_only: bool = False
    assignment: tuple[tuple[int, ...], ...] | None = None


@dataclass(frozen=True)
class DeleteTopic:
    request_id: int
    name: object


@dataclass(frozen=True)
class ControlledShutdown:
    request_id: int
    broker_id: object
    broker_epoch: object


@dataclass(frozen=True)
class PreferredElection:
    """Hand leadership back to preferred replicas (the rebalance timer)."""

    request_id: int


@dataclass(frozen=True)
class ElectLeaders:
    request_id: int
    election_type: int
    wanted: frozenset[TopicPartition] | None


Event = (
    ControllerVacant
    | EpochWon
    | RaceLost
    | EpochLost
    | BrokersChanged
    | TopicLoaded
    | TopicGone
    | StateChanged
    | Reloaded
    | WriteDone
    | WriteFailed
    | LeaderAndIsrAnswered
    | LogDirFailed
    | CreateTopic
    | CreatePartitions
    | DeleteTopic
    | ControlledShutdown
    | PreferredElection
    | ElectLeaders
)
