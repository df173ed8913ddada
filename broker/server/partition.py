"""One partition replica on this broker: the replication core run over the real log.

`Partition` is the thin asyncio shell of `broker.replication.Replica`: it feeds the core
events with the monotonic clock, and carries out the actions it returns: a finished
produce resolves the waiting request's future, an ISR proposal goes to the coord writer
(whose answer comes back as an `IsrChangeResult`), replies to a follower's fetch or
epoch query go back to the handler that asked, and a follower's own `SendFetch` /
`SendEpochQuery` waits in its outbox until the fetcher for that leader takes it
(`take_request`; the newest replaces an untaken one). Whenever the high watermark or the
log end moves, `on_change` wakes the fetch long polls waiting on this partition. It must
never read or send bytes itself.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import NamedTuple, cast

from broker.log import PartitionLog
from broker.replication import Replica
from broker.replication.log_api import ReplicaLog
from broker.replication.messages import (
    BecomeFollower,
    BecomeLeader,
    CompleteProduce,
    EpochAnswer,
    EpochQuery,
    ErrorCode,
    Event,
    FetchRequest,
    FetchResponse,
    Produce,
    ProposeIsr,
    ReplyEpochQuery,
    ReplyFetch,
    SendEpochQuery,
    SendFetch,
    Tick,
)
from broker.server.replica_log import PartitionReplicaLog


class ProduceResult(NamedTuple):
    error: ErrorCode
    base_offset: int
    message: str | None = None


# A follower's core asks again when an answer is this late (the fetcher ticks it before
# each round): that resends what a lost connection or a refusal left unanswered.
FOLLOWER_RETRY_MS = 100


def now_ms() -> int:
    return int(time.monotonic() * 1000)


class Partition:
    def __init__(
        self,
        topic: str,
        partition: int,
        broker_id: int,
        log: PartitionLog,
        *,
        broker_epoch: int,
        high_watermark: int,
        min_insync_replicas: int,
        replica_lag_time_max_ms: int,
        propose_isr: Callable[[Partition, ProposeIsr], None],
        on_change: Callable[[], None],
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.broker_id = broker_id
        self.log = log
        core_log = cast(
            ReplicaLog, PartitionReplicaLog(log)
        )  # the core reads a batch's offsets and epoch, which LogBatch has
        self.replica = Replica(
            broker_id,
            core_log,
            broker_epoch=broker_epoch,
            high_watermark=high_watermark,
            min_insync_replicas=min_insync_replicas,
            replica_lag_time_max_ms=replica_lag_time_max_ms,
            fetch_retry_ms=FOLLOWER_RETRY_MS,
        )
        self.replicas: list[int] = []
        self.controller_epoch = -1  # of the LeaderAndIsr that gave the current role
        self._propose_isr = propose_isr
        self._on_change = on_change
        self._produces: dict[int, asyncio.Future] = {}
        self._ids = itertools.count()
        self._outbox: SendFetch | SendEpochQuery | None = None
        self.stopped = False  # `stop` was called: the log may be closed or deleted

    def __repr__(self) -> str:
        return f"{self.topic}-{self.partition}"

    # -- what handlers and tools read -----------------------------------------------------

    @property
    def leader_epoch(self) -> int:
        return self.replica.epoch

    @property
    def high_watermark(self) -> int:
        return self.replica.high_watermark

    @property
    def is_leader(self) -> bool:
        return self.replica.is_leader

    @property
    def leader(self) -> int:
        """This broker if it leads, the leader it follows, or -1 before any order."""
        role = self.replica.role
        if role is None:
            return -1
        return self.broker_id if self.is_leader else role.leader  # type: ignore[union-attr]  # not leading: a follower's role, which names its leader

    @property
    def isr(self) -> frozenset[int]:
        """The ISR the leader counts (committed); empty on a follower."""
        return self.replica.role.isr if self.is_leader else frozenset()  # type: ignore[union-attr]  # leading: the leader's role holds the ISR

    def take_request(self, leader: int) -> SendFetch | SendEpochQuery | None:
        """The request this follower's core last asked to send to `leader`, handed out once."""
        request = self._outbox
        if request is None or request.leader != leader or self.stopped:
            return None
        self._outbox = None
        return request

    # -- orders -------------------------------------------------------------------------

    def become(
        self,
        *,
        leader: int,
        leader_epoch: int,
        isr: list[int],
        replicas: list[int],
        zk_version: int,
        broker_epoch: int,
        controller_epoch: int,
    ) -> None:
        """Apply one LeaderAndIsr entry; the core ignores stale epochs and other runs' orders."""
        if leader == self.broker_id:
            self.step(BecomeLeader(leader_epoch, frozenset(isr), tuple(replicas), zk_version, broker_epoch))
        else:
            self.step(BecomeFollower(leader, leader_epoch, broker_epoch))
        if self.leader_epoch == leader_epoch:  # taken (not a stale order)
            self.replicas = list(replicas)
            self.controller_epoch = max(self.controller_epoch, controller_epoch)

    def set_broker_epoch(self, epoch: int) -> None:
        """A new coord registration (after a session expiry): orders now carry this epoch."""
        self.replica.broker_epoch = epoch

    # -- the core's entry point ------------------------------------------------------------

    def step(self, event: Event) -> list[ReplyFetch | ReplyEpochQuery]:
        """Feed one event; carry out produce completions, ISR proposals and requests to the
        leader; return replies."""
        if self.stopped and isinstance(event, (FetchResponse, EpochAnswer, Tick)):
            return []  # a leader's answer (or a timer) that outlived this replica
        hw, leo = self.high_watermark, self.log.log_end_offset
        actions = self.replica.step(event, now_ms())
        replies: list[ReplyFetch | ReplyEpochQuery] = []
        for action in actions:
            if isinstance(action, CompleteProduce):
                self._complete(action)
            elif isinstance(action, ProposeIsr):
                self._propose_isr(self, action)
            elif isinstance(action, (ReplyFetch, ReplyEpochQuery)):
                replies.append(action)
            else:
                self._outbox = action
        if self.high_watermark != hw or self.log.log_end_offset != leo:
            self._on_change()
        return replies

    def tick(self) -> None:
        self.step(Tick())

    # -- produce --------------------------------------------------------------------------

    def produce(self, records: bytes, acks: int, timeout_ms: int) -> asyncio.Future:
        """Append as leader; the future gives a ProduceResult when acks are satisfied.

        Raises the log's CorruptBatchError / RecordTooLargeError (nothing written)."""
        request_id = next(self._ids)
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._produces[request_id] = fut
        try:
            self.step(Produce(request_id, (records,), acks, timeout_ms))
        except BaseException:
            self._produces.pop(request_id, None)
            raise
        return fut

    def _complete(self, done: CompleteProduce) -> None:
        fut = self._produces.pop(done.request_id, None)
        if fut is None or fut.done():
            return
        fut.set_result(ProduceResult(done.error, done.base_offset, self._explain(done.error)))

    def _explain(self, code: ErrorCode) -> str | None:
        min_isr = self.replica.min_insync_replicas
        if code == ErrorCode.NOT_ENOUGH_REPLICAS:
            return (
                f"{self}: the in-sync replicas {sorted(self.isr)} are fewer than min.insync.replicas="
                f"{min_isr}; acks=all writes are refused (nothing was written) until a replica catches up"
            )
        if code == ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
            return (
                f"{self}: written, but the in-sync replicas {sorted(self.isr)} fell below "
                f"min.insync.replicas={min_isr} before the write was acknowledged"
            )
        if code == ErrorCode.NOT_LEADER_OR_FOLLOWER:
            return f"broker {self.broker_id} no longer leads {self}; the write may or may not survive"
        if code == ErrorCode.REQUEST_TIMED_OUT:
            return f"{self}: the in-sync replicas did not all copy the write in time; it may or may not survive"
        return None

    def stop(self) -> None:
        """The replica is going away (StopReplica, broker stop): every waiting produce gets
        NOT_LEADER_OR_FOLLOWER, and a leader's answer still on its way is dropped (a fetcher's
        OffsetsForLeaderEpoch answer arriving after a topic deletion closed the log raised
        "the log is closed" from the truncation it asked for)."""
        self.stopped = True
        code = ErrorCode.NOT_LEADER_OR_FOLLOWER
        produces, self._produces = self._produces, {}
        for fut in produces.values():
            if not fut.done():
                fut.set_result(ProduceResult(code, -1, self._explain(code)))

    # -- serving followers ------------------------------------------------------------------

    def follower_fetch(self, replica_id: int, leader_epoch: int, fetch_offset: int) -> FetchResponse:
        """Record a follower's fetch (its LEO, maybe an ISR expand, HW); the bytes are read
        by the caller from the log (max_batches=0 keeps the core from reading them)."""
        for reply in self.step(FetchRequest(replica_id, leader_epoch, fetch_offset, max_batches=0)):
            if isinstance(reply, ReplyFetch):
                return reply.response
        raise AssertionError("the replication core answered a fetch with no reply")

    def epoch_query(self, replica_id: int, leader_epoch: int, epoch: int) -> EpochAnswer:
        for reply in self.step(EpochQuery(replica_id, leader_epoch, epoch)):
            if isinstance(reply, ReplyEpochQuery):
                return reply.answer
        raise AssertionError("the replication core answered an epoch query with no reply")
