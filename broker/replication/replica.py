"""One partition replica: the role switch between leader and follower, and the event entry.

`Replica.step(event, now_ms)` is the whole contract, as in etcd's raft: the caller feeds
every event (controller orders, peer messages, produces, ticks) with the current time and
carries out the returned actions in order. Orders from a leader epoch older than the one
this replica already follows are ignored; an equal epoch only refreshes a leader's ISR.
Fetches and epoch queries are fenced here, by `fencing.epoch_refusal`, before either role
sees them.
It must never perform I/O or read the clock; the log is reached only through ReplicaLog.
"""

from __future__ import annotations

from broker.replication.fencing import epoch_refusal
from broker.replication.follower import FollowerState
from broker.replication.leader import LeaderState
from broker.replication.log_api import ReplicaLog
from broker.replication.messages import (
    UNDEFINED_EPOCH,
    Action,
    BecomeFollower,
    BecomeLeader,
    CompleteProduce,
    EpochAnswer,
    EpochQuery,
    ErrorCode,
    Event,
    FetchRequest,
    FetchResponse,
    IsrChangeResult,
    Produce,
    ReplyEpochQuery,
    ReplyFetch,
    Tick,
)


class Replica:
    def __init__(
        self,
        broker_id: int,
        log: ReplicaLog,
        *,
        broker_epoch: int = 0,
        high_watermark: int = 0,
        min_insync_replicas: int = 1,
        replica_lag_time_max_ms: int = 30_000,
        fetch_retry_ms: int = 500,
    ) -> None:
        self.broker_id = broker_id
        self.broker_epoch = broker_epoch
        self.log = log
        self.min_insync_replicas = min_insync_replicas
        self.lag_max_ms = replica_lag_time_max_ms
        self.fetch_retry_ms = fetch_retry_ms
        self._restored_hw = min(high_watermark, log.log_end_offset)
        self.role: LeaderState | FollowerState | None = None

    @property
    def epoch(self) -> int:
        if self.role is not None:
            return self.role.epoch
        latest = self.log.latest_epoch  # after a restart: never obey an order older than our data
        return UNDEFINED_EPOCH if latest is None else latest

    @property
    def high_watermark(self) -> int:
        return self.role.high_watermark if self.role is not None else self._restored_hw

    @property
    def is_leader(self) -> bool:
        return isinstance(self.role, LeaderState)

    def step(self, event: Event, now_ms: int) -> list[Action]:
        role = self.role
        match event:
            case BecomeLeader() | BecomeFollower():
                return self._order(event, now_ms)
            case Tick():
                return role.tick(now_ms) if role is not None else []
            case Produce():
                if isinstance(role, LeaderState):
                    return role.produce(event, now_ms)
                return [CompleteProduce(event.request_id, ErrorCode.NOT_LEADER_OR_FOLLOWER)]
            case FetchRequest() | EpochQuery():
                refusal = epoch_refusal(event.leader_epoch, self.epoch, leading=self.is_leader)
                if refusal is not None:
                    return [self._refuse(event, refusal)]
                assert isinstance(role, LeaderState)
                if isinstance(event, FetchRequest):
                    return role.fetch(event, now_ms)
                return role.epoch_query(event)
            case FetchResponse():
                return role.fetch_response(event, now_ms) if isinstance(role, FollowerState) else []
            case EpochAnswer():
                return role.epoch_answer(event, now_ms) if isinstance(role, FollowerState) else []
            case IsrChangeResult():
                return role.isr_result(event) if isinstance(role, LeaderState) else []
        raise TypeError(f"not a replication event: {event!r}")

    def _refuse(self, request: FetchRequest | EpochQuery, error: ErrorCode) -> Action:
        """The answer to a fenced request, or to one sent to a replica that does not lead."""
        if isinstance(request, FetchRequest):
            hw = self.high_watermark if self.is_leader else -1
            return ReplyFetch(request.replica_id, FetchResponse(self.epoch, request.fetch_offset, (), hw, error))
        return ReplyEpochQuery(request.replica_id, EpochAnswer(self.epoch, -1, -1, error))

    def _order(self, order: BecomeLeader | BecomeFollower, now_ms: int) -> list[Action]:
        current = self.role
        if order.epoch < self.epoch:
            return []
        if order.broker_epoch != self.broker_epoch:
            # Sent to an earlier run of this broker: it may have lost the log tail since, and
            # leading that epoch again would reuse offsets (KIP-380's broker epoch).
            return []
        if isinstance(order, BecomeLeader):
            if isinstance(current, LeaderState):
                if order.epoch == current.epoch and order.partition_version <= current.version:
                    return []
                current.apply(order, now_ms)
                return current.tick(now_ms)
            self.role = LeaderState(
                self.broker_id,
                self.log,
                order,
                self.high_watermark,
                now_ms,
                min_insync_replicas=self.min_insync_replicas,
                replica_lag_time_max_ms=self.lag_max_ms,
            )
            return self.role.tick(now_ms)
        if isinstance(current, FollowerState) and order.epoch == current.epoch:
            return []
        actions = current.resign() if isinstance(current, LeaderState) else []
        self.role = FollowerState(
            self.broker_id, self.log, order.leader, order.epoch, self.high_watermark, retry_ms=self.fetch_retry_ms
        )
        return actions + self.role.start(now_ms)
