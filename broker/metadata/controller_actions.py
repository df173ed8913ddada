"""What the controller core asks its shell to do, as plain values.

Writes are conditional: each checks /controller_epoch at the zkVersion the core won it
at (a deposed controller's write fails), and each state write names the zkVersion it
expects; the shell answers every write with exactly one WriteDone or WriteFailed. Sends
go over the controller channel in the order listed. A `Reply` answers a request;
`settle` names the brokers whose LeaderAndIsr of the same step the shell waits for
(bounded) before replying. They must never carry sockets, futures or callbacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from broker.metadata.controller_requests import Addressing
from broker.metadata.znodes import PartitionState


@dataclass(frozen=True)
class PartitionView:
    """One partition as a controller request carries it."""

    topic: str
    partition: int
    replicas: tuple[int, ...]
    state: PartitionState


@dataclass(frozen=True)
class ContendForController:
    """Race for /controller: create it (ephemeral) and bump /controller_epoch in one multi;
    answer EpochWon, or RaceLost with a watch left on /controller."""


@dataclass(frozen=True)
class StateWrite:
    topic: str
    partition: int
    expected_version: int
    state: PartitionState


@dataclass(frozen=True)
class WriteStates:
    write_id: int
    epoch_zk_version: int
    writes: tuple[StateWrite, ...]


@dataclass(frozen=True)
class CreateTopicZnodes:
    """The topic's config, assignment and partition states, created in one multi."""

    write_id: int
    epoch_zk_version: int
    name: str
    assignment: Mapping[int, tuple[int, ...]]
    configs: Mapping[str, str]
    states: Mapping[int, PartitionState]


@dataclass(frozen=True)
class AddPartitionZnodes:
    """The grown assignment (set at the topic znode's current version) and the new
    partitions' states, in one multi."""

    write_id: int
    epoch_zk_version: int
    name: str
    assignment: Mapping[int, tuple[int, ...]]
    added: Mapping[int, PartitionState]


@dataclass(frozen=True)
class DeleteTopicZnodes:
    """Remove the topic's znodes, once the StopReplica sends before it were answered."""

    name: str


@dataclass(frozen=True)
class Reload:
    """Re-read these topics from coord (a conditional write found them changed), then
    answer Reloaded(token)."""

    token: int
    topics: tuple[str, ...]


@dataclass(frozen=True)
class SendLeaderAndIsr:
    broker: int
    to: Addressing
    partitions: tuple[PartitionView, ...]


@dataclass(frozen=True)
class SendUpdateMetadata:
    broker: int
    to: Addressing
    partitions: tuple[PartitionView, ...]


@dataclass(frozen=True)
class SendStopReplica:
    broker: int
    to: Addressing
    partitions: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class ForgetBroker:
    """The broker left: drop what is queued for it."""

    broker: int


@dataclass(frozen=True)
class Reply:
    request_id: int
    answer: object
    settle: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Acting:
    """This broker now acts as controller at `epoch` (-1: it stopped); `holder` is the
    controller as far as it knows."""

    epoch: int
    holder: int


@dataclass(frozen=True)
class Note:
    """Something an operator should read in the log (the core does no I/O itself)."""

    text: str
    warning: bool = False


Action = (
    Note
    | ContendForController
    | WriteStates
    | CreateTopicZnodes
    | AddPartitionZnodes
    | DeleteTopicZnodes
    | Reload
    | SendLeaderAndIsr
    | SendUpdateMetadata
    | SendStopReplica
    | ForgetBroker
    | Reply
    | Acting
)
