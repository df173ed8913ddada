"""The follower side of one partition: truncate by leader epoch, then fetch and copy.

On every new leader epoch the follower first asks the leader where its own latest epoch
ends (OffsetsForLeaderEpoch) and truncates there (KIP-101); if the leader never had that
epoch, it cuts back to the end of its own largest lower epoch and asks again (KIP-279),
until both logs agree on the last epoch they share. Only then does it fetch from its log
end. The high watermark it learns is the leader's, clamped to its own log end.
Its requests leave as `SendEpochQuery` / `SendFetch` actions, one at a time: after each
answer it takes, and from `tick` when an answer is overdue; the broker's fetcher and the
simulator both send exactly these.
It must never truncate by its own high watermark (that loses acknowledged writes, the
KIP-101 scenarios), read the clock, or perform I/O.
"""

from __future__ import annotations

from broker.replication.log_api import ReplicaLog
from broker.replication.messages import (
    UNDEFINED_EPOCH,
    Action,
    EpochAnswer,
    EpochQuery,
    ErrorCode,
    FetchRequest,
    FetchResponse,
    SendEpochQuery,
    SendFetch,
)

TRUNCATING = "truncating"
FETCHING = "fetching"


class FollowerState:
    def __init__(
        self, broker_id: int, log: ReplicaLog, leader: int, epoch: int, high_watermark: int, *, retry_ms: int
    ) -> None:
        self.broker_id = broker_id
        self.log = log
        self.leader = leader
        self.epoch = epoch
        self.retry_ms = retry_ms
        self.high_watermark = min(high_watermark, log.log_end_offset)
        self.phase = TRUNCATING
        self.asking_for: int | None = log.latest_epoch
        self.sent_ms: int | None = None

    def start(self, now_ms: int) -> list[Action]:
        if self.asking_for is None:
            self.phase = FETCHING
        return self._send(now_ms)

    def tick(self, now_ms: int) -> list[Action]:
        """Resend whatever is outstanding if no answer came within retry_ms: it was lost, or
        refused (a refusal is ignored, so the resend is its backoff)."""
        if self.sent_ms is not None and now_ms - self.sent_ms < self.retry_ms:
            return []
        return self._send(now_ms)

    def _send(self, now_ms: int) -> list[Action]:
        """Ask the leader for what we need now: where our latest epoch ends while truncating,
        else the records from our log end."""
        self.sent_ms = now_ms
        if self.phase == TRUNCATING:
            assert self.asking_for is not None
            return [SendEpochQuery(self.leader, EpochQuery(self.broker_id, self.epoch, self.asking_for))]
        return [SendFetch(self.leader, FetchRequest(self.broker_id, self.epoch, self.log.log_end_offset))]

    def epoch_answer(self, ans: EpochAnswer, now_ms: int) -> list[Action]:
        if self.phase != TRUNCATING or ans.leader_epoch != self.epoch or ans.error != ErrorCode.NONE:
            return []
        if ans.epoch == UNDEFINED_EPOCH:
            self._truncate(self.high_watermark)
            self.phase = FETCHING
            return self._send(now_ms)
        own_epoch, own_end = self.log.end_offset_for(ans.epoch)
        if own_epoch == ans.epoch or own_epoch == UNDEFINED_EPOCH:
            self._truncate(min(ans.end_offset, own_end) if own_epoch == ans.epoch else 0)
            self.phase = FETCHING
        else:
            # We never had the leader's epoch: everything after our largest lower epoch diverges.
            self._truncate(own_end)
            self.asking_for = own_epoch
        return self._send(now_ms)

    def fetch_response(self, resp: FetchResponse, now_ms: int) -> list[Action]:
        if self.phase != FETCHING or resp.leader_epoch != self.epoch or resp.fetch_offset != self.log.log_end_offset:
            return []  # stale, duplicated or reordered: the request it answers is gone
        if resp.error == ErrorCode.OFFSET_OUT_OF_RANGE:
            self.phase, self.asking_for = TRUNCATING, self.log.latest_epoch
            if self.asking_for is None:
                self.phase = FETCHING
            return self._send(now_ms)
        if resp.error != ErrorCode.NONE:
            return []
        fresh = tuple(b for b in resp.batches if b.base_offset >= self.log.log_end_offset)
        if fresh:
            self.log.append_as_follower(fresh)
        self.high_watermark = min(resp.high_watermark, self.log.log_end_offset)
        # Fetch again at once, even after an empty answer: the leader long-polls (it holds a
        # fetch that finds nothing new until data arrives or its wait runs out), so this
        # does not spin.
        return self._send(now_ms)

    def _truncate(self, offset: int) -> None:
        self.log.truncate_to(offset)
        self.high_watermark = min(self.high_watermark, self.log.log_end_offset)
