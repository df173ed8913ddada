"""AsyncConsumer: the public consumer API on asyncio (the sync Consumer wraps it).

Manual assignment (`assign`) or, with a `group_id`, group membership (`subscribe` to
topics or a pattern): the ConsumerCoordinator then fills the same SubscriptionState
after each rebalance, which it runs inside `poll`, and commits offsets (`commit`,
`commit_async`, auto-commit). `poll` returns a flat list of ConsumerRecord in fetch
order (per partition, in offset order). This module must never send requests itself:
the Fetcher and the coordinator do, and the consumer only decides when to ask.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from client.assignors import RANGE, ROUND_ROBIN
from client.client import NetworkClient
from client.consumer.fetcher import Fetcher
from client.consumer.group_coordinator import ConsumerCoordinator
from client.consumer.subscription_state import SubscriptionState
from client.errors import ConsumerStoppedError, IllegalStateError
from client.protocol.api import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP
from client.security import client_security
from client.structs import ConsumerRecord, TopicPartition

log = logging.getLogger(__name__)


class AsyncConsumer:
    """Kafka's consumer on asyncio; defaults follow Kafka's (a group needs `group_id`)."""

    def __init__(
        self,
        bootstrap_servers: str | list[str] = "127.0.0.1:9092",
        *,
        group_id: str | None = None,
        auto_offset_reset: str = "latest",
        fetch_max_wait_ms: int = 500,
        fetch_min_bytes: int = 1,
        fetch_max_bytes: int = 52428800,
        max_partition_fetch_bytes: int = 1048576,
        max_poll_records: int = 500,
        request_timeout_ms: int = 30000,
        retry_backoff_ms: int = 100,
        client_id: str = "pybroker-consumer",
        enable_auto_commit: bool = True,
        auto_commit_interval_ms: int = 5000,
        session_timeout_ms: int = 45000,
        heartbeat_interval_ms: int = 3000,
        max_poll_interval_ms: int = 300000,
        group_instance_id: str | None = None,
        partition_assignment_strategy: str | Sequence[str] = (RANGE, ROUND_ROBIN),
        metadata_max_age_ms: int = 300000,
        **security: Any,
    ) -> None:
        """`security`: kafka-python's security_protocol, ssl_* and sasl_* settings (client.security)."""
        self.client = NetworkClient(
            bootstrap_servers,
            client_id=client_id,
            request_timeout_ms=request_timeout_ms,
            retry_backoff_ms=retry_backoff_ms,
            metadata_max_age_ms=metadata_max_age_ms,
            security=client_security(**security),
        )
        self.subscriptions = SubscriptionState(auto_offset_reset)
        self.group_id = group_id
        self.coordinator: ConsumerCoordinator | None = None
        if group_id is not None:
            strategies = (
                [partition_assignment_strategy]
                if isinstance(partition_assignment_strategy, str)
                else list(partition_assignment_strategy)
            )
            self.coordinator = ConsumerCoordinator(
                self.client,
                self.subscriptions,
                group_id=group_id,
                session_timeout_ms=session_timeout_ms,
                heartbeat_interval_ms=heartbeat_interval_ms,
                max_poll_interval_ms=max_poll_interval_ms,
                group_instance_id=group_instance_id,
                assignors=strategies,
                enable_auto_commit=enable_auto_commit,
                auto_commit_interval_ms=auto_commit_interval_ms,
                metadata_max_age_ms=metadata_max_age_ms,
            )
        self.max_poll_records = max_poll_records
        self.fetcher = Fetcher(
            self.client,
            self.subscriptions,
            fetch_max_wait_ms=fetch_max_wait_ms,
            fetch_min_bytes=fetch_min_bytes,
            fetch_max_bytes=fetch_max_bytes,
            max_partition_fetch_bytes=max_partition_fetch_bytes,
        )
        self._closed = False

    async def start(self) -> None:
        await self.client.start()
        if self.coordinator is not None:
            self.coordinator.start()

    async def close(self) -> None:
        """Commit (auto-commit) and leave the group first, then close every connection."""
        self._closed = True
        self.fetcher.arrived.set()
        try:
            if self.coordinator is not None:
                await self.coordinator.close()
        finally:
            await self.fetcher.close()
            await self.client.close()

    async def __aenter__(self) -> AsyncConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # group membership and offsets
    def subscribe(
        self, topics: Iterable[str] | None = None, *, pattern: str | None = None, listener: Any = None
    ) -> None:
        """Join the group for `topics` (or every topic matching the regex `pattern`); the
        assignment arrives in a later poll. `listener` may define on_partitions_revoked /
        on_partitions_assigned(set of TopicPartition), plain or async."""
        if self.coordinator is None:
            raise IllegalStateError(
                "subscribe() needs a group: pass group_id=... to the consumer (or use assign() for manual assignment)"
            )
        self.subscriptions.subscribe(topics, pattern, listener)
        self.coordinator.rejoin_needed = True
        self.fetcher.clear_buffer()

    def subscription(self) -> set[str]:
        return set(self.subscriptions.subscription or ())

    def unsubscribe(self) -> None:
        self.subscriptions.unsubscribe()
        self.fetcher.clear_buffer()

    def _group(self) -> ConsumerCoordinator:
        if self.coordinator is None:
            raise IllegalStateError("offsets are committed to a group: pass group_id=... to the consumer")
        return self.coordinator

    async def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        """Commit `offsets` (next offset to read per partition; default: the current
        positions, i.e. everything poll returned) and wait until they are stored."""
        group = self._group()
        await group.commit(
            group.positions() if offsets is None else {TopicPartition(*tp): o for tp, o in offsets.items()}
        )

    def commit_async(
        self,
        offsets: dict[TopicPartition, int] | None = None,
        callback: Callable[[dict[TopicPartition, int], BaseException | None], Any] | None = None,
    ) -> asyncio.Task:
        """Commit in the background; `callback(offsets, exception or None)` when it ends."""
        group = self._group()
        chosen = group.positions() if offsets is None else {TopicPartition(*tp): o for tp, o in offsets.items()}
        task = asyncio.get_running_loop().create_task(group.commit(chosen))

        def done(t: asyncio.Task) -> None:
            error = None if t.cancelled() else t.exception()  # retrieved here, so never "never retrieved"
            if callback is not None:
                callback(chosen, error)
            elif error is not None:
                log.warning("commit_async of %s failed: %s", sorted(chosen), error)

        task.add_done_callback(done)
        return task

    async def committed(self, tp: TopicPartition) -> int | None:
        """The group's committed offset for `tp` (None if it never committed one)."""
        tp = TopicPartition(*tp)
        return (await self._group().fetch_committed([tp])).get(tp)

    # assignment and positions
    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        partitions = [TopicPartition(*tp) for tp in partitions]
        self.client.topics.update(tp.topic for tp in partitions)
        self.subscriptions.assign(partitions)
        self.fetcher.clear_buffer()

    def assignment(self) -> set[TopicPartition]:
        return set(self.subscriptions.assigned())

    async def partitions_for_topic(self, topic: str) -> list[int]:
        return await self.client.wait_for_topic(topic, self.client.request_timeout_ms)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """The next poll returns records from `offset` on (the next fetch starts there)."""
        self.subscriptions.seek(TopicPartition(*tp), offset)

    def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        for tp in partitions or self.subscriptions.assigned():
            self.subscriptions.request_reset(TopicPartition(*tp), "earliest")

    def seek_to_end(self, *partitions: TopicPartition) -> None:
        for tp in partitions or self.subscriptions.assigned():
            self.subscriptions.request_reset(TopicPartition(*tp), "latest")

    async def position(self, tp: TopicPartition) -> int:
        """Offset of the next record poll will return for `tp` (resolving a pending reset)."""
        tp = TopicPartition(*tp)
        if self.subscriptions.state(tp).position is None:
            await self.fetcher.reset_positions()
        return self.subscriptions.state(tp).position  # type: ignore[return-value]  # reset_positions() has just set it

    async def beginning_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return await self.fetcher.offsets_for([TopicPartition(*tp) for tp in partitions], EARLIEST_TIMESTAMP)

    async def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return await self.fetcher.offsets_for([TopicPartition(*tp) for tp in partitions], LATEST_TIMESTAMP)

    async def offsets_for_times(self, timestamps: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """First offset with timestamp >= the given ms per partition (-1 if none)."""
        out = {}
        for tp, ts in timestamps.items():
            out.update(await self.fetcher.offsets_for([TopicPartition(*tp)], ts))
        return out

    def pause(self, *partitions: TopicPartition) -> None:
        for tp in partitions:
            self.subscriptions.pause(TopicPartition(*tp))

    def resume(self, *partitions: TopicPartition) -> None:
        for tp in partitions:
            self.subscriptions.resume(TopicPartition(*tp))

    def paused(self) -> set[TopicPartition]:
        return self.subscriptions.paused()

    def highwater(self, tp: TopicPartition) -> int:
        """The last high watermark a Fetch reported for `tp` (-1 before the first)."""
        return self.subscriptions.state(TopicPartition(*tp)).high_watermark

    # reading
    async def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> list[ConsumerRecord]:
        """Records available now, or the first that arrive within `timeout_ms` ([] if none)."""
        max_records = max_records or self.max_poll_records
        deadline = time.monotonic() + timeout_ms / 1000
        fetcher = self.fetcher
        while True:
            if self._closed:
                raise ConsumerStoppedError("poll() on a closed consumer")
            if self.coordinator is not None and not await self.coordinator.poll(deadline - time.monotonic()):
                return []  # still rebalancing: no assignment to read yet
            fetcher.start_resets()  # in the background: a dead leader must not hold poll up
            records = fetcher.fetched_records(max_records)
            fetcher.send_fetches()  # prefetch: the next answer travels while the app works
            if records:
                return records
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            fetcher.arrived.clear()
            fetcher.send_fetches()
            try:
                await asyncio.wait_for(fetcher.arrived.wait(), remaining)
            except TimeoutError:
                pass

    async def getone(self) -> ConsumerRecord:
        """The next record, waiting as long as it takes."""
        while True:
            records = await self.poll(timeout_ms=1000, max_records=1)
            if records:
                return records[0]

    def __aiter__(self) -> AsyncConsumer:
        self._iter_buffer: list[ConsumerRecord] = []
        self._iter_index = 0
        return self

    async def __anext__(self) -> ConsumerRecord:
        while self._iter_index >= len(self._iter_buffer):
            if self._closed:
                raise StopAsyncIteration
            self._iter_buffer = await self.poll(timeout_ms=1000)
            self._iter_index = 0
        record = self._iter_buffer[self._iter_index]
        self._iter_index += 1
        return record
