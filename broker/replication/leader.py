"""The leader side of one partition: follower progress, ISR, high watermark, acks=all waits.

Rules this module enforces (kafka-reference.md section 4):
- HW = min LEO over the ISR, counting a proposed-but-unconfirmed ISR as the larger of the
  old and new sets, and never moves backwards.
- The ISR changes only when the coordination store accepts the leader's conditional
  write (`ProposeIsr` -> `IsrChangeResult`); one proposal is in flight at a time.
- acks=all is refused up front with NOT_ENOUGH_REPLICAS when the ISR is below
  min_insync_replicas, and completes once HW passes the produce's last offset, with
  NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR had shrunk below the minimum by then.
- Fetches carrying another leader epoch never reach it (`Replica` fences them with
  `fencing.epoch_refusal`), so their offsets are never counted.
- A follower is caught up at a fetch that reaches the leader's log end, or, as of its
  previous fetch, when it now has everything the leader had then (Kafka's rule).
It must never read the clock (time comes in as now_ms) or perform I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from broker.replication.log_api import ReplicaLog
from broker.replication.messages import (
    ACKS_ALL,
    UNDEFINED_EPOCH,
    Action,
    BecomeLeader,
    CompleteProduce,
    EpochAnswer,
    EpochQuery,
    ErrorCode,
    FetchRequest,
    FetchResponse,
    IsrChangeResult,
    Produce,
    ProposeIsr,
    ReplyEpochQuery,
    ReplyFetch,
)


@dataclass
class _Waiting:
    request_id: int
    base_offset: int
    last_offset: int
    deadline_ms: int


class LeaderState:
    def __init__(
        self,
        broker_id: int,
        log: ReplicaLog,
        order: BecomeLeader,
        high_watermark: int,
        now_ms: int,
        *,
        min_insync_replicas: int,
        replica_lag_time_max_ms: int,
    ) -> None:
        self.broker_id = broker_id
        self.log = log
        self.min_insync_replicas = min_insync_replicas
        self.lag_max_ms = replica_lag_time_max_ms
        self.high_watermark = high_watermark
        self.follower_leo: dict[int, int] = {}
        self.caught_up_ms: dict[int, int] = {}
        self.last_fetch: dict[int, tuple[int, int]] = {}  # follower -> (leader LEO, time) at its last fetch
        self.waiting: list[_Waiting] = []
        self.proposed: ProposeIsr | None = None
        self.epoch = UNDEFINED_EPOCH
        self.epoch_start = log.log_end_offset
        self.apply(order, now_ms)

    def apply(self, order: BecomeLeader, now_ms: int) -> None:
        """Take (or refresh) leadership under `order.epoch`: the controller's ISR wins."""
        if order.epoch != self.epoch:
            self.epoch_start = self.log.log_end_offset
            self.log.assign_epoch(order.epoch, self.epoch_start)
        self.epoch = order.epoch
        self.replicas = order.replicas
        self.isr = order.isr
        self.version = order.partition_version
        self.proposed = None
        for r in order.replicas:
            if r != self.broker_id:
                self.follower_leo.setdefault(r, 0)
                if r in order.isr:
                    self.caught_up_ms[r] = now_ms

    # ---- produce -----------------------------------------------------------------

    def produce(self, req: Produce, now_ms: int) -> list[Action]:
        if req.acks == ACKS_ALL and len(self.isr) < self.min_insync_replicas:
            return [CompleteProduce(req.request_id, ErrorCode.NOT_ENOUGH_REPLICAS)]
        batch = self.log.append_as_leader(req.records, self.epoch)
        if req.acks != ACKS_ALL:
            return [CompleteProduce(req.request_id, ErrorCode.NONE, batch.base_offset)] + self._advance()
        self.waiting.append(_Waiting(req.request_id, batch.base_offset, batch.last_offset, now_ms + req.timeout_ms))
        return self._advance()

    # ---- fetch and OffsetsForLeaderEpoch ----------------------------------------------

    def fetch(self, req: FetchRequest, now_ms: int) -> list[Action]:
        """A fetch at our epoch (`Replica` fenced the others)."""
        leo = self.log.log_end_offset
        if req.fetch_offset > leo:
            return [
                ReplyFetch(
                    req.replica_id,
                    FetchResponse(self.epoch, req.fetch_offset, (), self.high_watermark, ErrorCode.OFFSET_OUT_OF_RANGE),
                )
            ]
        actions: list[Action] = []
        if req.replica_id in self.follower_leo:
            r = req.replica_id
            self.follower_leo[r] = req.fetch_offset
            # Kafka's rule: caught up now if at our log end; else caught up as of its previous
            # fetch if it has everything we had then (under steady load a follower is never
            # exactly at the log end, yet it is keeping up).
            prev_leo, prev_ms = self.last_fetch.get(r, (None, now_ms))
            if req.fetch_offset >= leo:
                self.caught_up_ms[r] = now_ms
            elif prev_leo is not None and req.fetch_offset >= prev_leo:
                self.caught_up_ms[r] = max(self.caught_up_ms.get(r, prev_ms), prev_ms)
            self.last_fetch[r] = (leo, now_ms)
            actions += self._maybe_expand(req.replica_id)
            actions += self._advance()
        limit = None if req.replica_id >= 0 else self.high_watermark
        batches = tuple(
            b for b in self.log.read(req.fetch_offset, req.max_batches) if limit is None or b.last_offset < limit
        )
        actions.append(
            ReplyFetch(req.replica_id, FetchResponse(self.epoch, req.fetch_offset, batches, self.high_watermark))
        )
        return actions

    def epoch_query(self, q: EpochQuery) -> list[Action]:
        """A query at our epoch (`Replica` fenced the others)."""
        epoch, end = self.log.end_offset_for(q.epoch)
        return [ReplyEpochQuery(q.replica_id, EpochAnswer(self.epoch, epoch, end))]

    # ---- ISR ----------------------------------------------------------------------

    def _maybe_expand(self, replica: int) -> list[Action]:
        leo = self.follower_leo[replica]
        if replica in self.isr or self.proposed is not None:
            return []
        if leo >= self.high_watermark and leo >= self.epoch_start:
            return self._propose(self.isr | {replica})
        return []

    def tick(self, now_ms: int) -> list[Action]:
        actions: list[Action] = []
        lagging = {
            r for r in self.isr if r != self.broker_id and now_ms - self.caught_up_ms.get(r, now_ms) > self.lag_max_ms
        }
        if lagging and self.proposed is None:
            actions += self._propose(self.isr - lagging)
        for w in [w for w in self.waiting if w.deadline_ms <= now_ms]:
            self.waiting.remove(w)
            actions.append(CompleteProduce(w.request_id, ErrorCode.REQUEST_TIMED_OUT))
        return actions + self._advance()

    def _propose(self, isr: frozenset[int]) -> list[Action]:
        self.proposed = ProposeIsr(isr, self.epoch, self.version)
        return [self.proposed]

    def isr_result(self, result: IsrChangeResult) -> list[Action]:
        if result.proposal != self.proposed:
            return []
        self.proposed = None
        if result.accepted:
            self.isr = result.proposal.isr
            self.version = result.partition_version
        return self._advance()

    # ---- high watermark --------------------------------------------------------------

    def _advance(self) -> list[Action]:
        counted = self.isr | (self.proposed.isr if self.proposed else frozenset())
        leos = [self.log.log_end_offset if r == self.broker_id else self.follower_leo.get(r, 0) for r in counted]
        self.high_watermark = max(self.high_watermark, min(leos))
        done = [w for w in self.waiting if w.last_offset < self.high_watermark]
        if not done:
            return []
        self.waiting = [w for w in self.waiting if w.last_offset >= self.high_watermark]
        ok = len(self.isr) >= self.min_insync_replicas
        code = ErrorCode.NONE if ok else ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND
        return [CompleteProduce(w.request_id, code, w.base_offset) for w in done]

    def resign(self) -> list[Action]:
        """Leadership is gone: every waiting produce gets an answer, outcome unknown."""
        waiting, self.waiting = self.waiting, []
        return [CompleteProduce(w.request_id, ErrorCode.NOT_LEADER_OR_FOLLOWER) for w in waiting]
