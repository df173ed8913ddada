"""AsyncConsumer: the public consumer API on asyncio (the sync Consumer wraps it).

Manual assignment (`assign`) for now; group membership (`group_id`, `subscribe`) will
arrive with the group coordinator and fill the same SubscriptionState, so nothing here
pretends to offer it yet. `poll` returns a flat list of ConsumerRecord in fetch order
(per partition, in offset order). This module must never send requests itself: the
Fetcher does, and the consumer only decides when to ask.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from client.client import NetworkClient
from client.consumer.fetcher import Fetcher
from client.consumer.subscription_state import SubscriptionState
from client.errors import ConsumerStoppedError
from client.protocol.api import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP
from client.structs import ConsumerRecord, TopicPartition


class AsyncConsumer:
    """Kafka's consumer on asyncio, manual assignment; defaults follow Kafka's."""

    def __init__(self, bootstrap_servers: str | list[str] = "127.0.0.1:9092", *,
                 auto_offset_reset: str = "latest", fetch_max_wait_ms: int = 500, fetch_min_bytes: int = 1,
                 fetch_max_bytes: int = 52428800, max_partition_fetch_bytes: int = 1048576,
                 max_poll_records: int = 500, request_timeout_ms: int = 30000, retry_backoff_ms: int = 100,
                 client_id: str = "pybroker-consumer") -> None:
        self.client = NetworkClient(bootstrap_servers, client_id=client_id, request_timeout_ms=request_timeout_ms,
                                    retry_backoff_ms=retry_backoff_ms)
        self.subscriptions = SubscriptionState(auto_offset_reset)
        self.max_poll_records = max_poll_records
        self.fetcher = Fetcher(self.client, self.subscriptions, fetch_max_wait_ms=fetch_max_wait_ms,
                               fetch_min_bytes=fetch_min_bytes, fetch_max_bytes=fetch_max_bytes,
                               max_partition_fetch_bytes=max_partition_fetch_bytes)
        self._closed = False

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        self._closed = True
        self.fetcher.arrived.set()
        await self.client.close()

    async def __aenter__(self) -> "AsyncConsumer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

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
        return self.subscriptions.state(tp).position  # type: ignore[return-value]

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
            await fetcher.reset_positions()
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
            except asyncio.TimeoutError:
                pass

    async def getone(self) -> ConsumerRecord:
        """The next record, waiting as long as it takes."""
        while True:
            records = await self.poll(timeout_ms=1000, max_records=1)
            if records:
                return records[0]

    def __aiter__(self) -> "AsyncConsumer":
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
