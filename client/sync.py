"""Synchronous facades (Producer, Consumer, Admin) over the asyncio classes, for scripts.

Each facade owns one event loop running in a daemon thread and forwards every call to
it; the asyncio object lives only on that thread. `Producer.send` hands records over
through a bounded queue and one pump task, so a tight loop of sends costs a queue
append, not a thread hop per record. This module must never add behaviour of its own:
whatever the asyncio class does, the facade does, with the same errors.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any, TypeVar

from client.admin import AsyncAdmin
from client.consumer.consumer import AsyncConsumer
from client.errors import ProducerClosedError, RecordTooLargeError
from client.producer.producer import AsyncProducer
from client.producer.record_args import PreparedRecord
from client.structs import ClusterDescription, ConsumerRecord, GroupDescription, GroupListing, NewTopic, \
    RecordMetadata, TopicDescription, TopicPartition

T = TypeVar("T")


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
    """`Producer(...)` takes AsyncProducer's arguments; `send` returns a concurrent Future."""

    def __init__(self, bootstrap_servers: str | list[str] = "127.0.0.1:9092", *, max_pending: int = 100_000,
                 **settings: Any) -> None:
        self._pending: collections.deque = collections.deque()
        self._space = threading.Semaphore(max_pending)
        self._lock = threading.Lock()
        self._pumping = False
        self._closed = False
        self._waiting: dict[str, collections.deque] = {}  # topic -> records waiting for its metadata
        super().__init__("pybroker-producer", lambda: AsyncProducer(bootstrap_servers, **settings))

    def send(self, topic: str, value: Any = None, key: Any = None, headers: list[tuple[str, bytes]] | None = None,
             partition: int | None = None, timestamp_ms: int | None = None) -> concurrent.futures.Future:
        """Queue one record; the Future's result is its RecordMetadata. Wrong argument types
        raise here, at once (TypeError/ValueError); the rest fails on the Future, an oversized
        record too (as in Kafka, whose send() hands RecordTooLargeException to the callback)."""
        if self._closed:
            raise ProducerClosedError("send() on a closed producer")
        result: concurrent.futures.Future = concurrent.futures.Future()
        try:
            record = self._async.prepare(topic, value, key, headers, partition, timestamp_ms)
        except RecordTooLargeError as exc:
            result.set_exception(exc)
            return result
        deadline = time.monotonic() + self._async.max_block_ms / 1000
        self._space.acquire()
        with self._lock:
            self._pending.append((result, record, deadline))
            wake = not self._pumping
            self._pumping = True
        if wake:
            self._thread.loop.call_soon_threadsafe(self._start_pump)
        return result

    def send_and_wait(self, topic: str, value: Any = None, key: Any = None, **kwargs: Any) -> RecordMetadata:
        return self.send(topic, value, key, **kwargs).result()

    def _start_pump(self) -> None:
        self._thread.loop.create_task(self._pump())

    async def _pump(self) -> None:
        """Hand queued records over in order. A record whose topic has no metadata yet (or
        that queues behind one that has none) goes to that topic's waiter, so it delays
        neither records of other topics nor other such topics. A record frees its place
        among `max_pending` when it is handed over or fails, so waiting ones count too."""
        while True:
            with self._lock:
                if not self._pending:
                    self._pumping = False
                    return
                entry = self._pending.popleft()
            topic = entry[1].topic
            waiting = self._waiting.get(topic)
            if waiting is None and self._async.client.cluster.partitions_for(topic) is not None:
                self._space.release()
                await self._hand_over(entry[0], entry[1])
                continue
            if waiting is None:
                waiting = self._waiting[topic] = collections.deque()
                self._thread.loop.create_task(self._await_topic(topic, waiting))
            waiting.append(entry)

    async def _await_topic(self, topic: str, waiting: collections.deque) -> None:
        """Wait for `topic`'s metadata until each record's own deadline (max_block_ms after
        its send()), failing the records whose deadline passes; then hand the rest over in order."""
        try:
            while waiting:
                result, record, deadline = waiting[0]
                try:
                    await self._async.client.wait_for_topic(topic, max(0.0, deadline - time.monotonic()) * 1000)
                except Exception as exc:  # noqa: BLE001 - handed to the caller's Future
                    waiting.popleft()
                    self._space.release()
                    result.set_exception(exc)
                    continue
                while waiting:
                    result, record, _deadline = waiting.popleft()
                    self._space.release()
                    await self._hand_over(result, record)
        finally:
            del self._waiting[topic]

    async def _hand_over(self, result: concurrent.futures.Future, record: PreparedRecord) -> None:
        try:
            future = await self._async.send_prepared(record)
        except Exception as exc:  # noqa: BLE001 - handed to the caller's Future
            result.set_exception(exc)
            return
        future.add_done_callback(lambda f, r=result: _settle(r, f))

    def flush(self, timeout: float | None = None) -> None:
        self._thread.run(self._flush(), timeout)

    async def _flush(self) -> None:
        while self._pumping or self._waiting:
            await asyncio.sleep(0.001)
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


async def _await(task: asyncio.Task) -> None:
    await task


def _settle(result: concurrent.futures.Future, future: Any) -> None:
    exc = future.exception()
    if exc is not None:
        result.set_exception(exc)
    else:
        result.set_result(future.result())


class Consumer(_Facade):
    """`Consumer(...)` takes AsyncConsumer's arguments; iterate with `for record in consumer`."""

    def __init__(self, bootstrap_servers: str | list[str] = "127.0.0.1:9092", **settings: Any) -> None:
        super().__init__("pybroker-consumer", lambda: AsyncConsumer(bootstrap_servers, **settings))

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        self._thread.call(self._async.assign, list(partitions))

    # group membership (listener callbacks run on the consumer's loop thread)
    def subscribe(self, topics: Iterable[str] | None = None, *, pattern: str | None = None,
                  listener: Any = None) -> None:
        self._thread.call(lambda: self._async.subscribe(None if topics is None else list(topics), pattern=pattern,
                                                        listener=listener))

    def subscription(self) -> set[str]:
        return self._thread.call(self._async.subscription)

    def unsubscribe(self) -> None:
        self._thread.call(self._async.unsubscribe)

    def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        self._thread.run(self._async.commit(offsets))

    def commit_async(self, offsets: dict[TopicPartition, int] | None = None,
                     callback: Callable[[dict[TopicPartition, int], BaseException | None], Any] | None = None
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

