"""Synchronous facades (Producer, Consumer, Admin) over the asyncio classes, for scripts.

Each facade owns one event loop running in a daemon thread and forwards every call to
it; the asyncio object lives only on that thread. `Producer.send` hands records over
in bounded bursts taken by one pump task, so a tight loop of sends costs a list
append, not a thread hop per record. This module must never add behaviour of its own:
whatever the asyncio class does, the facade does, with the same errors.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from client.admin import AsyncAdmin
from client.consumer.consumer import AsyncConsumer
from client.errors import ClientTimeoutError, ProducerClosedError, RecordTooLargeError
from client.producer.accumulator import ProducerBatch
from client.producer.producer import AsyncProducer, check_partition
from client.record_future import LOCK, WIDTH, BatchOutcome, Handover, RecordFuture
from client.structs import (
    ClusterDescription,
    ConsumerRecord,
    GroupDescription,
    GroupListing,
    NewTopic,
    RecordMetadata,
    TopicDescription,
    TopicPartition,
)

T = TypeVar("T")

# Records the loop takes off the sync Producer's queue per pass before letting the sender run.
CHUNK = 2000


class _LoopThread:
    """An event loop in a daemon thread; `run` blocks the caller until a coroutine ends."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        async def wrapper() -> T:
            return fn(*args)

        return self.run(wrapper())

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class _Facade:
    """Owns the loop thread and the asyncio object; starts it now, closes both once."""

    def __init__(self, name: str, make: Callable[[], Any]) -> None:
        self._thread = _LoopThread(name)
        self._async = make()
        try:
            self._thread.run(self._async.start())
        except BaseException:
            self._thread.stop()
            raise

    def close(self) -> None:
        if self._thread.loop.is_closed():
            return
        try:
            self._thread.run(self._async.close())
        finally:
            self._thread.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Producer(_Facade):
    """`Producer(...)` takes AsyncProducer's arguments; `send` returns a concurrent Future.

    `send` checks the record in the caller's thread and appends the plain record to the
    open Handover (record_future), returning a future that is that handover and a
    position; the first send of a burst wakes the loop, which takes the whole handover in
    one callback (`_drain`) and appends its records to the accumulator, CHUNK per pass,
    each run of records bound for one partition in one step, without an asyncio future
    per record, writing into the handover which batch's BatchOutcome each joined. When the
    batch completes, the outcome is finished once for all its records.
    At most `max_pending` records wait between send() and the
    accumulator (queued, being handed over, or waiting for their topic's metadata; the
    accumulator bounds itself by `buffer_memory`); send() blocks beyond that, up to
    `max_block_ms`, then fails the record's Future with ClientTimeoutError.
    """

    def __init__(
        self, bootstrap_servers: str | list[str] = "127.0.0.1:9092", *, max_pending: int = 100_000, **settings: Any
    ) -> None:
        self._lock = threading.Lock()  # guards _open, _sent and _woken between senders and the loop
        self._open = Handover()  # what send() appends to, until the loop takes it
        self._max_pending = max_pending
        # Records sent, and those since in a batch or failed: each counter has one writer (the
        # senders under _lock, the loop), so the loop never waits for a sender to count one.
        self._sent = 0
        self._handed = 0
        self._room = threading.Event()  # set by the loop when records leave the pending ones
        self._room.set()
        self._woken = False  # a drain is scheduled or running: the next send need not wake the loop
        self._drainer: asyncio.Task | None = None  # this and everything below: loop thread only
        self._waiting: dict[str, collections.deque[tuple[Handover, int, Sequence]]] = {}  # topic -> awaiting metadata
        self._waiters: set[asyncio.Task] = set()
        self._outcomes: dict[ProducerBatch, BatchOutcome] = {}  # open batches this facade appended to
        self._failed: list[tuple[Handover, int, BaseException]] = []  # failed under LOCK, told after it
        self._closed = False
        super().__init__("pybroker-producer", lambda: AsyncProducer(bootstrap_servers, **settings))
        self._block = self._async.max_block_ms / 1000

    def send(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
    ) -> concurrent.futures.Future:
        """Queue one record; the Future's result is its RecordMetadata. Wrong argument types
        raise here, at once (TypeError/ValueError); the rest fails on the Future, an oversized
        record too (as in Kafka, whose send() hands RecordTooLargeException to the callback)."""
        if self._closed:
            raise ProducerClosedError("send() on a closed producer")
        try:
            record = self._async.prepare_fields(topic, value, key, headers, partition, timestamp_ms)
        except RecordTooLargeError as exc:
            return _failed(exc)
        if self._sent - self._handed >= self._max_pending and not self._wait_for_room():
            return _failed(
                ClientTimeoutError(
                    f"no room for the record within max_block_ms={self._async.max_block_ms}: {self._max_pending} "
                    f"records wait for the producer's buffer (is the broker slow or down?)"
                )
            )
        sent = time.monotonic()
        with self._lock:
            handover = self._open
            handover.records.extend(record)
            stamps = handover.sent
            stamps.append(sent)
            pos = len(stamps) - 1
            self._sent += 1
            wake = not self._woken
            self._woken = True
        if wake:
            self._thread.loop.call_soon_threadsafe(self._start_drain)
        return RecordFuture(handover, pos)

    def send_and_wait(self, topic: str, value: Any = None, key: Any = None, **kwargs: Any) -> RecordMetadata:
        return self.send(topic, value, key, **kwargs).result()

    def _wait_for_room(self) -> bool:
        """Block the caller while `max_pending` records wait for the loop (memory stays bounded
        when the broker is slow or down), at most max_block_ms (False then, as Kafka's send()
        gives up on buffer space). The loop sets `_room` after records leave the pending ones."""
        deadline = time.monotonic() + self._block
        while self._sent - self._handed >= self._max_pending:
            self._room.clear()
            if self._sent - self._handed < self._max_pending:
                return True
            left = deadline - time.monotonic()
            if left <= 0 or not self._room.wait(left):
                return self._sent - self._handed < self._max_pending
        return True

    def _start_drain(self) -> None:
        if self._drainer is None:
            self._drainer = self._thread.loop.create_task(self._drain())

    async def _drain(self) -> None:
        """Take the open handover and hand its records over in send order, CHUNK per pass,
        letting the sender run between passes; again until send() has queued nothing more."""
        prehash = getattr(self._async.partitioner, "prehash", None)
        try:
            while True:
                with self._lock:
                    handover = self._open
                    if not handover.sent:
                        self._woken = False  # a send from now on wakes the loop again
                        return
                    self._open = Handover()
                records = handover.take()
                count = len(handover.sent)
                for start in range(0, count, CHUNK):
                    stop = min(count, start + CHUNK)
                    if prehash is not None:
                        keys = [key for key in records[start * WIDTH + 2 : stop * WIDTH : WIDTH] if key is not None]
                        if keys:
                            prehash(keys)  # murmur2 of the chunk's keys at once, for the partitioner
                    done = self._hand_over(handover, records, start, stop)
                    while done < stop:
                        await self._async.wait_for_room()
                        done = self._hand_over(handover, records, done, stop)
                    await asyncio.sleep(0)
        finally:
            self._drainer = None

    def _hand_over(self, handover: Handover, records: list, start: int, stop: int) -> int:
        """Append records start..stop-1 (`records` holds their fields end to end, Handover) to
        the accumulator, each run of records bound for one partition in one step; returns
        where it stopped (`stop`, or the first record that found no room). A record whose
        topic has no metadata yet, or that queues behind one that has none, goes to that
        topic's waiter, so it delays neither records of other topics nor other such topics."""
        cluster = self._async.client.cluster
        waiting = self._waiting
        choose = self._async.partitioner.partition
        now_ms = int(time.time() * 1000)
        now = time.monotonic()
        known: dict[str, Any] = {}  # the chunk's topics' (partitions, available) (None: park); itself: not looked up
        parked = 0
        end = start  # records i..end-1 are bound where record i is (a run, `_run`)
        partition = 0
        with LOCK:
            i = start
            while i < stop:
                topic = records[i * WIDTH]
                where: Any = known.get(topic, known)
                if where is known:
                    partitions = None if waiting and topic in waiting else cluster.partitions_for(topic)
                    where = known[topic] = (
                        None if partitions is None else (partitions, cluster.available_partitions_for(topic))
                    )
                if where is None:
                    self._park(topic, handover, i, records[i * WIDTH : (i + 1) * WIDTH])
                    parked += 1
                    i += 1
                    continue
                if i >= end:
                    try:
                        partition, end = self._run(records, i, stop, where[0], where[1])
                    except Exception as exc:  # noqa: BLE001 - handed to the caller's Future, after LOCK
                        self._failed.append((handover, i, exc))
                        i += 1
                        continue
                elif records[i * WIDTH + 2] is None and records[i * WIDTH + 4] is None:
                    partition = choose(topic, None, where[0], where[1])  # sticky: it moves when a batch fills
                taken = self._place(handover, i, records, i, end, (topic, partition), now_ms, now)
                if not taken:
                    break
                i += taken
        self._left(i - start - parked)
        return i

    def _run(
        self, records: list, i: int, stop: int, partitions: list[int], available: list[int] | None
    ) -> tuple[int, int]:
        """The partition of record i of `records` (WIDTH fields each), and where the run of
        records after it that go the same way ends: of its topic and either all without key
        and partition (the sticky partition's) or all to its partition (given, or by key).
        ValueError for a partition the topic lacks."""
        at = i * WIDTH
        topic, key, partition = records[at], records[at + 2], records[at + 4]
        choose = self._async.partitioner.partition
        if partition is not None:
            check_partition(topic, partition, partitions)
        else:
            partition = choose(topic, key, partitions, available)
        keyless = key is None and records[at + 4] is None
        if keyless:
            count, last = stop - i, stop * WIDTH
            if (
                records[at + 2 : last : WIDTH].count(None) == count
                and records[at + 4 : last : WIDTH].count(None) == count
                and records[at:last:WIDTH].count(topic) == count
            ):
                return partition, stop  # the usual burst: all keyless, of one topic
        end = i + 1
        while end < stop:
            at = end * WIDTH
            other_key, other = records[at + 2], records[at + 4]
            if records[at] != topic or keyless != (other_key is None and other is None):
                break
            if not keyless:
                if other is None:
                    try:
                        other = choose(topic, other_key, partitions, available)
                    except Exception:  # noqa: BLE001 - it fails as the first of its own run
                        break
                if other != partition:
                    break
            end += 1
        return partition, end

    def _place(
        self,
        handover: Handover,
        pos: int,
        records: list,
        start: int,
        stop: int,
        tp: tuple[str, int],
        now_ms: int,
        now: float,
    ) -> int:
        """Under LOCK, append records start..stop-1 of `records` (handover positions from
        `pos`), all bound for `tp`, into its open batch: how many it took (0: no room)."""
        placed = self._async.append_run(tp, records, start, stop, now_ms, now)
        if placed is None:
            return 0
        batch, index, count = placed
        outcome = self._outcomes.get(batch)
        if outcome is None:
            outcome = self._outcomes[batch] = BatchOutcome(batch.tp)
            batch.future.add_done_callback(functools.partial(self._settle, batch, outcome))
        stamps = records[start * WIDTH + 5 : (start + count) * WIDTH : WIDTH]
        # at `index` on: only this facade appends to its producer's batches
        if stamps.count(None) == count:
            outcome.stamps.extend([now_ms] * count)
        else:
            outcome.stamps.extend([now_ms if stamp is None else stamp for stamp in stamps])
        handover.place(pos, count, outcome, index)
        return count

    def _place_parked(self, handover: Handover, pos: int, record: Sequence, partitions: list[int]) -> bool:
        """Under LOCK, append one record that waited for its topic's metadata; False if there was no room."""
        fields = list(record)
        try:
            partition, _ = self._run(
                fields, 0, 1, partitions, self._async.client.cluster.available_partitions_for(record[0])
            )
        except Exception as exc:  # noqa: BLE001 - handed to the caller's Future, after LOCK
            self._failed.append((handover, pos, exc))
            return True
        tp = (record[0], partition)
        return self._place(handover, pos, fields, 0, 1, tp, int(time.time() * 1000), time.monotonic()) > 0

    def _left(self, count: int) -> None:
        """`count` records left the pending ones (in a batch, or failed); then tell the failed ones."""
        if count:
            self._handed += count
            if not self._room.is_set():
                self._room.set()
        if self._failed:
            failed, self._failed = self._failed, []
            with LOCK:
                watchers = [future for handover, pos, exc in failed for future in handover.fail(pos, exc)]
            for future in watchers:
                future._invoke_callbacks()

    def _settle(self, batch: ProducerBatch, outcome: BatchOutcome, done: asyncio.Future) -> None:
        """The batch is acknowledged or failed: finish its records' futures together."""
        del self._outcomes[batch]
        exc = done.exception()
        outcome.finish(None if exc is not None else done.result(), exc)

    def _park(self, topic: str, handover: Handover, pos: int, record: Sequence) -> None:
        waiting = self._waiting.get(topic)
        if waiting is None:
            waiting = self._waiting[topic] = collections.deque()
            task = self._thread.loop.create_task(self._await_topic(topic, waiting))
            self._waiters.add(task)
            task.add_done_callback(self._waiters.discard)
        waiting.append((handover, pos, record))

    async def _await_topic(self, topic: str, waiting: collections.deque[tuple[Handover, int, Sequence]]) -> None:
        """Wait for `topic`'s metadata until each record's own deadline (max_block_ms after
        its send()), failing the records whose deadline passes; then hand the rest over in order."""
        client = self._async.client
        try:
            while waiting:
                handover, pos, _record = waiting[0]
                try:
                    partitions = await client.wait_for_topic(
                        topic, max(0.0, handover.sent[pos] + self._block - time.monotonic()) * 1000
                    )
                except Exception as exc:  # noqa: BLE001 - handed to the caller's Future
                    waiting.popleft()
                    self._failed.append((handover, pos, exc))
                    self._left(1)
                    continue
                while waiting:
                    with LOCK:
                        placed = self._place_parked(*waiting[0], partitions)
                    if not placed:
                        self._left(0)
                        await self._async.wait_for_room()
                        partitions = client.cluster.partitions_for(topic) or partitions
                        continue
                    waiting.popleft()
                    self._left(1)
        finally:
            del self._waiting[topic]

    def flush(self, timeout: float | None = None) -> None:
        self._thread.run(self._flush(), timeout)

    async def _flush(self) -> None:
        """Hand over everything sent so far, then wait until each record has succeeded or failed."""
        while True:
            if self._open.sent and self._drainer is None:
                self._start_drain()
            busy = [t for t in (self._drainer, *self._waiters) if t is not None]
            if not busy:
                break
            await asyncio.wait(busy)
        await self._async.flush()

    def partitions_for(self, topic: str) -> list[int]:
        return self._thread.run(self._async.partitions_for(topic))

    def close(self, timeout: float | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._thread.run(self._close(), timeout)
        finally:
            self._thread.stop()

    async def _close(self) -> None:
        await self._flush()
        await self._async.close()


def _failed(exc: BaseException) -> RecordFuture:
    """The Future of a record send() refused before queueing it."""
    future = RecordFuture()
    future.set_exception(exc)
    return future


async def _await(task: asyncio.Task) -> None:
    await task


class Consumer(_Facade):
    """`Consumer(...)` takes AsyncConsumer's arguments; iterate with `for record in consumer`."""

    def __init__(self, bootstrap_servers: str | list[str] = "127.0.0.1:9092", **settings: Any) -> None:
        super().__init__("pybroker-consumer", lambda: AsyncConsumer(bootstrap_servers, **settings))

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        self._thread.call(self._async.assign, list(partitions))

    # group membership (listener callbacks run on the consumer's loop thread)
    def subscribe(
        self, topics: Iterable[str] | None = None, *, pattern: str | None = None, listener: Any = None
    ) -> None:
        self._thread.call(
            lambda: self._async.subscribe(None if topics is None else list(topics), pattern=pattern, listener=listener)
        )

    def subscription(self) -> set[str]:
        return self._thread.call(self._async.subscription)

    def unsubscribe(self) -> None:
        self._thread.call(self._async.unsubscribe)

    def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        self._thread.run(self._async.commit(offsets))

    def commit_async(
        self,
        offsets: dict[TopicPartition, int] | None = None,
        callback: Callable[[dict[TopicPartition, int], BaseException | None], Any] | None = None,
    ) -> concurrent.futures.Future:
        """Returns at once; the Future ends when the commit does (its exception if it failed)."""

        async def start() -> asyncio.Task:
            return self._async.commit_async(offsets, callback)

        task = self._thread.run(start())
        return asyncio.run_coroutine_threadsafe(_await(task), self._thread.loop)

    def committed(self, tp: TopicPartition) -> int | None:
        return self._thread.run(self._async.committed(tp))

    def assignment(self) -> set[TopicPartition]:
        return self._thread.call(self._async.assignment)

    def partitions_for_topic(self, topic: str) -> list[int]:
        return self._thread.run(self._async.partitions_for_topic(topic))

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> list[ConsumerRecord]:
        return self._thread.run(self._async.poll(timeout_ms, max_records))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._thread.call(self._async.seek, tp, offset)

    def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self._thread.call(self._async.seek_to_beginning, *partitions)

    def seek_to_end(self, *partitions: TopicPartition) -> None:
        self._thread.call(self._async.seek_to_end, *partitions)

    def position(self, tp: TopicPartition) -> int:
        return self._thread.run(self._async.position(tp))

    def beginning_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return self._thread.run(self._async.beginning_offsets(list(partitions)))

    def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return self._thread.run(self._async.end_offsets(list(partitions)))

    def pause(self, *partitions: TopicPartition) -> None:
        self._thread.call(self._async.pause, *partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self._thread.call(self._async.resume, *partitions)

    def paused(self) -> set[TopicPartition]:
        return self._thread.call(self._async.paused)

    def __iter__(self) -> Iterator[ConsumerRecord]:
        """Records forever (until close); stop with `break`."""
        while not self._async._closed:
            yield from self.poll(timeout_ms=1000)


class Admin(_Facade):
    """`Admin(...)` takes AsyncAdmin's arguments; every method blocks until the broker answers."""

    def __init__(self, bootstrap_servers: str | list[str] = "127.0.0.1:9092", **settings: Any) -> None:
        super().__init__("pybroker-admin", lambda: AsyncAdmin(bootstrap_servers, **settings))

    def create_topics(self, topics: Iterable[NewTopic], *, validate_only: bool = False) -> None:
        self._thread.run(self._async.create_topics(list(topics), validate_only=validate_only))

    def delete_topics(self, names: Iterable[str]) -> None:
        self._thread.run(self._async.delete_topics(list(names)))

    def list_topics(self) -> list[str]:
        return self._thread.run(self._async.list_topics())

    def describe_topics(self, names: Iterable[str] | None = None) -> list[TopicDescription]:
        return self._thread.run(self._async.describe_topics(None if names is None else list(names)))

    def describe_cluster(self) -> ClusterDescription:
        return self._thread.run(self._async.describe_cluster())

    def list_groups(self) -> list[GroupListing]:
        return self._thread.run(self._async.list_groups())

    def describe_groups(self, group_ids: Iterable[str]) -> list[GroupDescription]:
        return self._thread.run(self._async.describe_groups(list(group_ids)))

    def list_group_offsets(self, group_id: str) -> dict[TopicPartition, int]:
        return self._thread.run(self._async.list_group_offsets(group_id))
