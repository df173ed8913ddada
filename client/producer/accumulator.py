"""Batching for the producer: records gather per partition until a batch is worth sending.

A batch is ready when it is full (`batch_size` bytes), when its first record has waited
`linger_ms`, or when someone flushes or closes. Each send() adds one tuple to a list;
the whole batch is encoded later with one `build_batch` call. The sender asks which
brokers have ready batches and drains them; failed batches come back to the front of
their queue after a backoff, so order within a partition is kept. Time is passed in
(`now`, seconds on the monotonic clock); this module must never read the clock, touch
the network or decide about errors: it stores, times and hands out batches.
"""

from __future__ import annotations

import asyncio
import collections
import functools
from collections.abc import Callable, Iterable
from typing import Any

from client.structs import RecordMetadata, TopicPartition

# Bytes a record costs in a batch beyond key and value (length, attributes, deltas, key and
# value lengths, header count: 7 varints of one or two bytes each).
RECORD_OVERHEAD = 12


class ProducerBatch:
    """Records for one partition, and the one future every record's result hangs on."""

    __slots__ = (
        "tp",
        "records",
        "size",
        "created",
        "future",
        "attempts",
        "retry_at",
        "encoded",
        "sealed",
        "producer_id",
        "producer_epoch",
        "base_sequence",
        "order",
        "last_answer",
    )

    def __init__(self, tp: TopicPartition, created: float, future: asyncio.Future) -> None:
        self.tp = tp
        self.records: list[tuple] = []
        self.size = 0
        self.created = created
        self.future = future  # -> (base_offset, log_append_time)
        self.attempts = 0
        self.retry_at = 0.0
        self.encoded: bytes | None = None
        self.sealed = False  # drained once: its records never change again
        # Stamped by the idempotent producer on the first send and kept through retries.
        self.producer_id = -1
        self.producer_epoch = -1
        self.base_sequence = -1
        self.order: tuple[int, ...] = ()  # rises with base_sequence, never wraps: the order retries keep
        self.last_answer: BaseException | None = None  # the broker's last refusal, for the expiry message

    def done(self, base_offset: int, log_append_time: int) -> None:
        if not self.future.done():
            self.future.set_result((base_offset, log_append_time))

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


class SplitResult:
    """The outcome of a batch the broker refused as too large and that was sent as two halves."""

    __slots__ = ("mid", "first", "second")

    def __init__(self, mid: int, first: object, second: object) -> None:
        self.mid, self.first, self.second = mid, first, second


def _locate(result: object, index: int) -> tuple[int, int]:
    """(base offset to add `index` to, log append time) for record `index` of a batch."""
    while isinstance(result, SplitResult):
        if index < result.mid:
            result = result.first
        else:
            base, append_time = _locate(result.second, index - result.mid)
            return base - result.mid, append_time
    return result  # type: ignore[return-value]  # not split: the (base offset, append time) pair


def records_metadata(result: object, tp: TopicPartition, records: Iterable[tuple[int, int]]) -> list[RecordMetadata]:
    """RecordMetadata of each (index, create timestamp) of a batch whose future gave `result`:
    one call for a whole batch's records (the sync Producer settles them together)."""
    out = []
    topic, partition = tp
    plain = not isinstance(result, SplitResult)
    if plain:
        base_offset, log_append_time = result  # type: ignore[misc]  # not split: the (base offset, append time) pair
    for index, timestamp in records:
        if not plain:
            base_offset, log_append_time = _locate(result, index)
        out.append(
            RecordMetadata(
                topic,
                partition,
                base_offset + index if base_offset >= 0 else -1,
                log_append_time if log_append_time >= 0 else timestamp,
            )
        )
    return out


class FutureRecordMetadata:
    """Awaitable RecordMetadata of one record: its batch's future plus its index in it."""

    __slots__ = ("_batch_future", "_tp", "_index", "_timestamp")

    def __init__(self, batch_future: asyncio.Future, tp: TopicPartition, index: int, timestamp: int) -> None:
        self._batch_future = batch_future
        self._tp = tp
        self._index = index
        self._timestamp = timestamp

    def __await__(self):
        yield from self._batch_future.__await__()
        return self.result()

    def done(self) -> bool:
        return self._batch_future.done()

    def result(self) -> RecordMetadata:
        return records_metadata(self._batch_future.result(), self._tp, ((self._index, self._timestamp),))[0]

    def exception(self) -> BaseException | None:
        return self._batch_future.exception()

    def add_done_callback(self, fn: Callable[[FutureRecordMetadata], Any]) -> None:
        self._batch_future.add_done_callback(lambda _f: fn(self))


class RecordAccumulator:
    def __init__(self, batch_size: int, linger_ms: float, buffer_memory: int, retry_backoff_ms: int) -> None:
        self.batch_size = batch_size
        self.linger = linger_ms / 1000
        self.retry_backoff = retry_backoff_ms / 1000
        self.buffer_memory = buffer_memory
        self.buffered_bytes = 0
        self._queues: dict[TopicPartition, collections.deque[ProducerBatch]] = {}
        self._incomplete: set[ProducerBatch] = set()
        self.flushing = 0
        self.closing = False
        self.wakeup = asyncio.Event()  # set when the sender may have new work
        self._room = asyncio.Event()
        self._room.set()

    def append(
        self, tp: tuple[str, int], key: Any, value: Any, headers: Any, timestamp: int, size: int, now: float
    ) -> tuple[FutureRecordMetadata, bool]:
        """Add one record; returns its future and whether its batch just became full.

        `tp` may be a plain (topic, partition) tuple: it hashes and compares like a
        TopicPartition, and saves building one per record.
        """
        batch, full = self.append_to_batch(tp, key, value, headers, timestamp, size, now)
        return FutureRecordMetadata(batch.future, batch.tp, len(batch.records) - 1, timestamp), full

    def append_to_batch(
        self, tp: tuple[str, int], key: Any, value: Any, headers: Any, timestamp: int, size: int, now: float
    ) -> tuple[ProducerBatch, bool]:
        """`append` without the per-record future: the batch the record joined (as its last
        record) and whether it just became full; the caller makes the record's future (or
        settles the batch's records together, `records_metadata`) from the batch."""
        batch = self._batch_for(tp, size, now)
        batch.records.append((key, value, headers, timestamp))
        batch.size += size
        self.buffered_bytes += size
        if self.buffered_bytes >= self.buffer_memory:
            self._room.clear()
        full = batch.size >= self.batch_size
        if full:
            self.wakeup.set()
        return batch, full

    def append_run(
        self, tp: tuple[str, int], records: list, start: int, stop: int, width: int, now_ms: int, now: float
    ) -> tuple[ProducerBatch, int, int, bool]:
        """append_to_batch for records start..stop-1 of a flat list (`width` fields each, a
        PreparedRecord's, end to end), all bound for `tp`, in one step: they go into its open
        batch until one does not fit, the batch is full, or `buffer_memory` bytes are
        buffered. Returns (the batch, the first one's index there, how many it took (at
        least one), whether the batch just became full). A record without a timestamp gets
        `now_ms`. The caller checks beforehand that `buffer_memory` is not reached."""
        batch = self._batch_for(tp, records[start * width + 6], now)
        first = len(batch.records)
        add = batch.records.append
        size, buffered = batch.size, self.buffered_bytes
        limit, memory = self.batch_size, self.buffer_memory
        i = start
        while i < stop:
            at = i * width
            record_size = records[at + 6]
            if size + record_size > limit and i > start:
                break  # the next batch takes it
            timestamp = records[at + 5]
            add((records[at + 2], records[at + 1], records[at + 3], now_ms if timestamp is None else timestamp))
            size += record_size
            buffered += record_size
            i += 1
            if size >= limit or buffered >= memory:
                break
        batch.size, self.buffered_bytes = size, buffered
        if buffered >= memory:
            self._room.clear()
        full = size >= limit
        if full:
            self.wakeup.set()
        return batch, first, i - start, full

    def _batch_for(self, tp: tuple[str, int], size: int, now: float) -> ProducerBatch:
        """The batch of `tp` a record of `size` bytes joins: its open one, or a new one."""
        queue = self._queues.get(tp)  # type: ignore[call-overload]  # a plain (topic, partition) equals its TopicPartition
        if queue is None:
            tp = TopicPartition(*tp)
            queue = self._queues[tp] = collections.deque()
        batch = queue[-1] if queue else None
        # A batch back from a failed attempt was sent as it is: its records must not change.
        if batch is None or batch.sealed or (batch.size + size > self.batch_size and batch.records):
            batch = ProducerBatch(TopicPartition(*tp), now, asyncio.get_running_loop().create_future())
            queue.append(batch)
            self._incomplete.add(batch)
            batch.future.add_done_callback(functools.partial(self._completed_future, batch))
            if len(queue) == 1:
                self.wakeup.set()  # a linger timer starts: the sender must know when it ends
        return batch

    async def wait_for_room(self) -> None:
        """Block while more than `buffer_memory` bytes wait to be acknowledged."""
        await self._room.wait()

    def _completed_future(self, batch: ProducerBatch, _future: asyncio.Future[Any]) -> None:
        self._completed(batch)

    def _completed(self, batch: ProducerBatch) -> None:
        self._incomplete.discard(batch)
        self.buffered_bytes -= batch.size
        if self.buffered_bytes < self.buffer_memory:
            self._room.set()

    def _ready(self, batch: ProducerBatch, queue_len: int, now: float) -> bool:
        if batch.retry_at > now:
            return False
        return (
            queue_len > 1
            or batch.size >= self.batch_size
            or self.flushing > 0
            or self.closing
            or now - batch.created >= self.linger
        )

    def ready(
        self, now: float, leader_for: Callable[[TopicPartition], int | None]
    ) -> tuple[set[int], float | None, set[str]]:
        """(brokers with a sendable batch, seconds until the next batch ripens, topics without a leader)."""
        nodes: set[int] = set()
        unknown: set[str] = set()
        next_delay: float | None = None
        for tp, queue in self._queues.items():
            if not queue:
                continue
            head = queue[0]
            leader = leader_for(tp)
            if leader is None:
                unknown.add(tp.topic)
                continue
            if self._ready(head, len(queue), now):
                nodes.add(leader)
            else:
                wait = max(head.retry_at, head.created + self.linger) - now
                next_delay = wait if next_delay is None else min(next_delay, wait)
        return nodes, next_delay, unknown

    def drain(
        self,
        node: int,
        leader_for: Callable[[TopicPartition], int | None],
        max_request_size: int,
        now: float,
        may_send: Callable[[ProducerBatch], bool] | None = None,
    ) -> list[ProducerBatch]:
        """Take the ready head batch of every partition led by `node`, up to max_request_size
        (and, for an idempotent producer, only heads whose turn it is: `may_send`)."""
        out: list[ProducerBatch] = []
        total = 0
        for tp, queue in self._queues.items():
            if not queue or leader_for(tp) != node:
                continue
            head = queue[0]
            if not self._ready(head, len(queue), now) or (may_send is not None and not may_send(head)):
                continue
            if out and total + head.size > max_request_size:
                break
            queue.popleft()
            head.sealed = True
            out.append(head)
            total += head.size
        return out

    def reenqueue(self, batch: ProducerBatch, now: float) -> None:
        """A retriable failure: back to the front of its queue, sendable after the backoff.

        A batch with a sequence goes before the first queued batch with a later (or no)
        sequence, so retries of one partition leave again in sequence order.
        """
        batch.attempts += 1
        batch.retry_at = now + self.retry_backoff
        queue = self._queues.setdefault(batch.tp, collections.deque())
        at = 0
        if batch.order:
            while at < len(queue) and queue[at].order and queue[at].order < batch.order:
                at += 1
        queue.insert(at, batch)
        self.wakeup.set()

    def split(self, batch: ProducerBatch) -> list[ProducerBatch]:
        """Resend a refused multi-record batch as two halves, first half first (Kafka does the same).

        The halves carry their own futures; the original batch's future, which every
        record's FutureRecordMetadata waits on, completes once both halves have.
        """
        loop = asyncio.get_running_loop()
        mid = len(batch.records) // 2
        halves = []
        for records in (batch.records[:mid], batch.records[mid:]):
            half = ProducerBatch(batch.tp, batch.created, loop.create_future())
            half.records, half.size, half.attempts = records, batch.size * len(records) // len(batch.records), 0
            half.sealed = True
            halves.append(half)
        queue = self._queues.setdefault(batch.tp, collections.deque())
        queue.extendleft(reversed(halves))

        def settle(_f: asyncio.Future) -> None:
            if not all(h.future.done() for h in halves):
                return
            failed = next((h.future.exception() for h in halves if h.future.exception() is not None), None)
            if failed is not None:
                batch.fail(failed)
            elif not batch.future.done():
                batch.future.set_result(SplitResult(mid, halves[0].future.result(), halves[1].future.result()))

        for half in halves:
            half.future.add_done_callback(settle)
        self.wakeup.set()
        return halves

    def expire(self, now: float, delivery_timeout: float, make_error: Callable[[ProducerBatch], BaseException]) -> None:
        """Fail queued (not in-flight) batches older than `delivery_timeout` seconds."""
        for queue in self._queues.values():
            while queue and now - queue[0].created > delivery_timeout:
                batch = queue.popleft()
                batch.fail(make_error(batch))

    def abort_all(self, exc: BaseException) -> None:
        for queue in self._queues.values():
            while queue:
                queue.popleft().fail(exc)

    def has_queued(self) -> bool:
        return any(self._queues.values())

    def incomplete(self) -> Iterable[ProducerBatch]:
        return list(self._incomplete)
