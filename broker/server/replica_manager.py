"""The partitions this broker hosts, kept in step with what the controller decided.

It is the broker side of LeaderAndIsr and StopReplica: `become_leader` opens the log and
starts leading at the given epoch, `stop_replica` stops (and optionally deletes). Request
handlers look partitions up here and get a typed refusal when this broker does not lead
one. It must never write to coord.
"""

from __future__ import annotations

import logging
from typing import Protocol

from client.protocol.errors import ErrorCode

from broker.metadata.cache import MetadataCache
from broker.metadata.znodes import PartitionState
from broker.server.log_manager import LogManager
from broker.server.partition import Partition

log = logging.getLogger(__name__)


class PartitionRefused(Exception):
    """A request names a partition this broker cannot serve; carries code and message."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LeadershipListener(Protocol):
    """Told when this broker starts or stops leading a partition (the group coordinator)."""

    def on_become_leader(self, topic: str, partition: int) -> None: ...

    def on_resign(self, topic: str, partition: int) -> None: ...


class ReplicaManager:
    def __init__(self, broker_id: int, logs: LogManager, cache: MetadataCache) -> None:
        self.broker_id = broker_id
        self.logs = logs
        self.cache = cache
        self.partitions: dict[tuple[str, int], Partition] = {}
        self.leadership_listener: LeadershipListener | None = None   # groups: on_become_leader / on_resign

    async def become_leader(self, topic: str, partition: int, state: PartitionState,
                            replicas: list[int], configs: dict[str, str]) -> None:
        current = self.partitions.get((topic, partition))
        if current is not None:
            current.update_state(state, replicas)
            return
        plog = self.logs.open(topic, partition, configs)
        self.partitions[(topic, partition)] = Partition(topic, partition, self.broker_id, plog, state, replicas)
        log.info("leading %s-%d at leader epoch %d", topic, partition, state.leader_epoch)
        if self.leadership_listener is not None:
            self.leadership_listener.on_become_leader(topic, partition)

    async def stop_replica(self, topic: str, partition: int, *, delete: bool) -> None:
        part = self.partitions.pop((topic, partition), None)
        if part is not None and self.leadership_listener is not None:
            self.leadership_listener.on_resign(topic, partition)
        if part is not None:
            part.fail_waiters(PartitionRefused(ErrorCode.NOT_LEADER_OR_FOLLOWER,
                                               f"{topic}-{partition} stopped on broker {self.broker_id}"))
        if delete:
            await self.logs.delete(topic, partition)

    def leader_partition(self, topic: object, partition: object) -> Partition:
        """The partition if this broker leads it; else PartitionRefused with the reason."""
        if not isinstance(topic, str) or type(partition) is not int:
            raise PartitionRefused(ErrorCode.INVALID_REQUEST, "topic must be a string and partition an integer")
        part = self.partitions.get((topic, partition))
        if part is not None:
            return part
        if not self.cache.has_partition(topic, partition):
            raise PartitionRefused(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                                   f"this broker knows no partition {topic}-{partition}")
        leader = self.cache.leader(topic, partition)
        raise PartitionRefused(ErrorCode.NOT_LEADER_OR_FOLLOWER,
                               f"broker {self.broker_id} does not lead {topic}-{partition} (leader: {leader})")
