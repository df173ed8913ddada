"""AsyncProducer: the public producer API, asyncio first (the sync Producer wraps it).

`send()` partitions the record, appends it to the accumulator and returns at once with
an awaitable RecordMetadata; it waits only when `buffer_memory` bytes are already
unacknowledged (Kafka's blocking send, as an await). The Sender task does all network
work. Idempotence is on by default, as in Kafka 3: `resolve_idempotence` turns the
settings into (acks, idempotent) with Kafka's rules. This module must never encode or
send batches itself, and must never let a record's failure pass silently: every future
ends with metadata or an exception.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from client.client import NetworkClient
from client.errors import ProducerClosedError, RecordTooLargeError
from client.partitioner import DefaultPartitioner
from client.producer.accumulator import FutureRecordMetadata, ProducerBatch, RecordAccumulator
from client.producer.idempotence import MAX_IN_FLIGHT, IdempotenceState
from client.producer.record_args import PreparedRecord, check_fields
from client.producer.sender import Sender
from client.protocol.api import ACKS_ALL
from client.protocol.record_batch import Compression
from client.security import client_security
from client.structs import RecordMetadata, TopicPartition

log = logging.getLogger(__name__)

_COMPRESSION: dict[str | None, Compression] = {
    None: Compression.NONE,
    **{c.name.lower(): c for c in Compression},
}  # Kafka's compression.type names
_ACKS = {0: 0, 1: 1, -1: ACKS_ALL, "all": ACKS_ALL, "0": 0, "1": 1, "-1": ACKS_ALL}


def check_partition(topic: str, partition: int, partitions: Sequence[int]) -> None:
    """ValueError for an explicit partition the topic lacks."""
    if not 0 <= partition < len(partitions):
        raise ValueError(f"partition {partition} is not in [0, {len(partitions) - 1}] for topic {topic!r}")


def resolve_idempotence(
    enable_idempotence: bool | None, acks: int | str | None, max_in_flight: int, retries: int
) -> tuple[int, bool]:
    """(acks, idempotent) from the settings, with Kafka 3's rules (KIP-679, KAFKA-13673).

    Idempotence needs acks=all, retries > 0 and at most five requests in flight. Asked for
    explicitly (`enable_idempotence=True`) with a conflicting setting, it is a
    configuration error; left at its default (None) it is on unless another setting the
    user chose conflicts, in which case it is quietly off, as in Kafka since 3.2. acks
    defaults to "all".
    """
    if acks is not None and acks not in _ACKS:
        raise ValueError(f"acks must be 0, 1 or 'all' (-1), not {acks!r}")
    conflicts = []
    if acks is not None and _ACKS[acks] != ACKS_ALL:
        conflicts.append(f"acks={acks!r} (it needs acks='all')")
    if max_in_flight > MAX_IN_FLIGHT:
        conflicts.append(f"max_in_flight={max_in_flight} (at most {MAX_IN_FLIGHT})")
    if retries < 1:
        conflicts.append(f"retries={retries} (it needs retries)")
    if enable_idempotence and conflicts:
        raise ValueError(
            "enable_idempotence=True conflicts with "
            + ", ".join(conflicts)
            + "; change those settings or pass enable_idempotence=False"
        )
    idempotent = enable_idempotence is not False and not conflicts
    if enable_idempotence is None and conflicts:
        log.debug("idempotence is off: %s", ", ".join(conflicts))
    return (ACKS_ALL if acks is None else _ACKS[acks]), idempotent


class AsyncProducer:
    """Kafka's producer on asyncio. Defaults follow Kafka 3's (acks=all, idempotent)."""

    def __init__(
        self,
        bootstrap_servers: str | list[str] = "127.0.0.1:9092",
        *,
        acks: int | str | None = None,
        enable_idempotence: bool | None = None,
        batch_size: int = 16384,
        linger_ms: float = 5,
        max_request_size: int = 1048576,
        buffer_memory: int = 32 * 1024 * 1024,
        retries: int = 2147483647,
        retry_backoff_ms: int = 100,
        request_timeout_ms: int = 30000,
        delivery_timeout_ms: int = 120000,
        max_block_ms: int = 60000,
        max_in_flight: int = 5,
        compression: str | None = None,
        client_id: str = "pybroker-producer",
        key_serializer: Callable[[Any], bytes] | None = None,
        value_serializer: Callable[[Any], bytes] | None = None,
        partitioner: DefaultPartitioner | None = None,
        **security: Any,
    ) -> None:
        """`security`: kafka-python's security_protocol, ssl_* and sasl_* settings (client.security)."""
        if compression not in _COMPRESSION:
            raise ValueError(f"compression must be one of {sorted(map(str, _COMPRESSION))}, not {compression!r}")
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.acks, self.idempotent = resolve_idempotence(enable_idempotence, acks, max_in_flight, retries)
        self.max_request_size = max_request_size
        self.max_block_ms = max_block_ms
        self._key_serializer = key_serializer
        self._value_serializer = value_serializer
        self.client = NetworkClient(
            bootstrap_servers,
            client_id=client_id,
            request_timeout_ms=request_timeout_ms,
            retry_backoff_ms=retry_backoff_ms,
            security=client_security(**security),
        )
        self._settings: dict[str, Any] = dict(
            batch_size=batch_size, linger_ms=linger_ms, buffer_memory=buffer_memory, retry_backoff_ms=retry_backoff_ms
        )
        self._sender_settings: dict[str, Any] = dict(
            acks=self.acks,
            retries=retries,
            max_request_size=max_request_size,
            max_in_flight=max_in_flight,
            request_timeout_ms=request_timeout_ms,
            delivery_timeout_ms=delivery_timeout_ms,
            compression=_COMPRESSION[compression],
        )
        self.partitioner = partitioner or DefaultPartitioner()
        self._acc: RecordAccumulator | None = None
        self._sender: Sender | None = None
        self._closed = False

    async def start(self) -> None:
        """Connect to a bootstrap server and start the sender task."""
        self._acc = RecordAccumulator(**self._settings)
        self._sender = Sender(
            self.client,
            self._acc,
            on_drained=self._on_drained,
            idempotence=IdempotenceState() if self.idempotent else None,
            **self._sender_settings,
        )
        await self.client.start()
        self._sender.start()

    async def __aenter__(self) -> AsyncProducer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def send(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
    ) -> FutureRecordMetadata:
        """Queue one record; `await` the result for its RecordMetadata (or its error)."""
        return await self.send_prepared(self.prepare_fields(topic, value, key, headers, partition, timestamp_ms))

    def prepare(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
    ) -> PreparedRecord:
        """Serialize and check one record without I/O (any thread may call it), so that a
        wrong argument fails in the caller's send() with a message naming it."""
        return PreparedRecord._make(self.prepare_fields(topic, value, key, headers, partition, timestamp_ms))

    def prepare_fields(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
    ) -> tuple:
        """`prepare`, giving a PreparedRecord's fields as a plain tuple (the sync Producer
        queues many; a NamedTuple costs more to build and stays tracked by the collector)."""
        if self._closed or self._acc is None:
            raise ProducerClosedError("send() on a producer that is closed or not started (call start())")
        if self._key_serializer is not None:
            key = self._key_serializer(key)
        if self._value_serializer is not None:
            value = self._value_serializer(value)
        record = check_fields(topic, value, key, headers, partition, timestamp_ms)
        if record[6] > self.max_request_size:
            raise RecordTooLargeError(
                f"record of about {record[6]} bytes is larger than max_request_size="
                f"{self.max_request_size}; raise max_request_size (and the topic's "
                f"max.message.bytes) or send smaller records"
            )
        return record

    async def send_prepared(self, record: PreparedRecord | tuple) -> FutureRecordMetadata:
        """Queue a record from `prepare` (or `prepare_fields`), waiting up to max_block_ms for its topic's metadata."""
        acc = self._acc
        if self._closed or acc is None:
            raise ProducerClosedError("send() on a producer that is closed or not started (call start())")
        topic, timestamp = record[0], record[5]  # a PreparedRecord or its fields
        partitions = self.client.cluster.partitions_for(topic)
        if partitions is None:
            partitions = await self.client.wait_for_topic(topic, self.max_block_ms)
        if timestamp is None:
            timestamp = int(time.time() * 1000)
        placed = self.append_ready(record, partitions, timestamp, time.monotonic())
        while placed is None:
            await acc.wait_for_room()
            placed = self.append_ready(record, partitions, timestamp, time.monotonic())
        batch, index = placed
        return FutureRecordMetadata(batch.future, batch.tp, index, timestamp)

    def append_ready(
        self, record: PreparedRecord | Sequence, partitions: list[int], timestamp: int, now: float
    ) -> tuple[ProducerBatch, int] | None:
        """Partition a record whose topic's `partitions` are known and append it at once:
        (its batch, its index there); None, with nothing done, while `buffer_memory` bytes
        are unacknowledged (await `wait_for_room`). ValueError for a partition the topic
        lacks. (The sync Producer partitions its bursts itself and appends them by the run,
        `append_run`.)"""
        topic, value, key, headers, partition, _timestamp, size = record
        if partition is None:
            available = self.client.cluster.available_partitions_for(topic)
            partition = self.partitioner.partition(topic, key, partitions, available)
        else:
            check_partition(topic, partition, partitions)
        acc = self._acc
        assert acc is not None  # started
        if acc.buffered_bytes >= acc.buffer_memory:
            return None
        batch, full = acc.append_to_batch((topic, partition), key, value, headers, timestamp, size, now)
        if full and key is None:
            self.partitioner.on_batch_closed(topic, partition, self.client.cluster.available_partitions_for(topic))
        return batch, len(batch.records) - 1

    def append_run(
        self, tp: tuple[str, int], records: list, start: int, stop: int, now_ms: int, now: float
    ) -> tuple[ProducerBatch, int, int] | None:
        """append_ready for records start..stop-1 of a flat list (a PreparedRecord's fields
        each, end to end) that the caller partitioned, all to `tp`: appended into its open
        batch in one step until that batch is full or one does not fit (`now_ms` stamps
        those without a timestamp). (the batch, the first one's index there, how many were
        taken); None, with nothing done, while `buffer_memory` bytes are unacknowledged."""
        acc = self._acc
        assert acc is not None  # started
        if acc.buffered_bytes >= acc.buffer_memory:
            return None
        width = len(PreparedRecord._fields)
        batch, first, taken, full = acc.append_run(tp, records, start, stop, width, now_ms, now)
        if full and records[(start + taken - 1) * width + 2] is None:  # the last one had no key
            topic, partition = tp
            self.partitioner.on_batch_closed(topic, partition, self.client.cluster.available_partitions_for(topic))
        return batch, first, taken

    async def wait_for_room(self) -> None:
        """Return once fewer than `buffer_memory` bytes are unacknowledged."""
        assert self._acc is not None  # started
        await self._acc.wait_for_room()

    async def send_and_wait(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
    ) -> RecordMetadata:
        return await (await self.send(topic, value, key, headers, partition, timestamp_ms))

    async def partitions_for(self, topic: str) -> list[int]:
        return await self.client.wait_for_topic(topic, self.max_block_ms)

    def _on_drained(self, tp: TopicPartition) -> None:
        self.partitioner.on_batch_closed(tp.topic, tp.partition, self.client.cluster.available_partitions_for(tp.topic))

    async def flush(self) -> None:
        """Send every queued record now and wait until each one has succeeded or failed."""
        acc = self._acc
        if acc is None:
            return
        acc.flushing += 1
        acc.wakeup.set()
        try:
            for batch in acc.incomplete():
                try:
                    await batch.future
                except Exception:  # noqa: BLE001 - the record's own future reports it
                    pass
        finally:
            acc.flushing -= 1

    async def close(self, timeout_ms: int | None = None) -> None:
        """Deliver what is queued (within `timeout_ms` if given), then disconnect."""
        if self._closed:
            return
        self._closed = True
        if self._sender is not None:
            try:
                await asyncio.wait_for(self._sender.stop(), None if timeout_ms is None else timeout_ms / 1000)
            except TimeoutError:
                self._sender.kill(ProducerClosedError("producer closed before this record was delivered"))
        await self.client.close()
