"""The consumer's fetch pipeline: Fetch requests to partition leaders, decoded records out.

At most one Fetch in flight per broker, for the assigned, unpaused partitions that have
no undelivered data buffered. The response's tail is sliced per partition and kept as
raw bytes; records are decoded (one `decode_batch` call per batch) only when the
application polls, and records below the position (the start of the first batch) are
skipped. Handing out the last buffered records of a partition immediately sends the
next Fetch, so the network works while the application does. Also resets positions with
ListOffsets. This module must never block the application on a Fetch it does not need.
"""

from __future__ import annotations

import asyncio
import collections
import logging

import msgpack

from client.client import NetworkClient
from client.consumer.subscription_state import SubscriptionState
from client.errors import ClientError, NoOffsetForPartitionError
from client.protocol.api import CONSUMER_REPLICA_ID, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, ApiKey
from client.protocol.errors import BrokerError, ErrorCode, raise_for
from client.protocol.record_batch import (HEADER_SIZE, CorruptBatchError, TimestampType, _decompress,
                                          iter_batches, validate_batch)
from client.structs import ConsumerRecord, TopicPartition

log = logging.getLogger(__name__)

_REFRESH_CODES = frozenset({ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.LEADER_NOT_AVAILABLE,
                            ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.FENCED_LEADER_EPOCH,
                            ErrorCode.UNKNOWN_LEADER_EPOCH})


class CompletedFetch:
    """One partition's record bytes from one Fetch response, handed out bit by bit."""

    __slots__ = ("tp", "data", "cursor", "records", "index")

    def __init__(self, tp: TopicPartition, data: bytes, fetch_offset: int) -> None:
        self.tp = tp
        self.data = data
        self.cursor = fetch_offset  # offset the next handed-out record must have at least
        self.records: list[ConsumerRecord] | None = None
        self.index = 0

    def decode(self) -> list[ConsumerRecord]:
        if self.records is None:
            out: list[ConsumerRecord] = []
            pos, data = 0, self.data
            for header in iter_batches(data):
                out.extend(decode_consumer_records(self.tp, data, pos))
                pos += header.size
            start = 0
            while start < len(out) and out[start].offset < self.cursor:
                start += 1
            self.records, self.index, self.data = out, start, b""
        return self.records


def decode_consumer_records(tp: TopicPartition, buf: bytes, pos: int) -> list[ConsumerRecord]:
    """The batch at `pos` as ConsumerRecords, built directly (one object per record).

    Same checks as record_batch.decode_batch (header, crc, record count), but skipping
    its intermediate Record tuples: on the consumer's hot path that halves the objects.
    """
    header = validate_batch(buf, pos)
    payload = _decompress(header.compression, memoryview(buf)[pos + HEADER_SIZE:pos + header.size])
    try:
        body = msgpack.unpackb(payload, raw=False, use_list=False)  # tuples: cheaper than lists
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise CorruptBatchError(f"records of {tp.topic}-{tp.partition} batch at offset "
                                f"{header.base_offset} do not decode: {exc}") from None
    if not isinstance(body, tuple) or len(body) != header.record_count:
        raise CorruptBatchError(f"{tp.topic}-{tp.partition} batch at offset {header.base_offset} does not "
                                f"hold {header.record_count} records")
    topic, partition, base = tp.topic, tp.partition, header.base_offset
    # tuple.__new__ builds the named tuple in C; ConsumerRecord(...) would run a Python-level
    # __new__ per record, which is most of the consumer's time at a million records/s.
    new, cls = tuple.__new__, ConsumerRecord
    append_time = header.timestamp_type is TimestampType.LOG_APPEND_TIME
    ts = header.max_timestamp if append_time else header.base_timestamp
    try:
        if append_time:
            return [new(cls, (topic, partition, base + od, ts, k, v, list(hs) if hs else []))
                    for od, _td, k, v, hs in body]
        return [new(cls, (topic, partition, base + od, ts + td, k, v, list(hs) if hs else []))
                for od, td, k, v, hs in body]
    except (TypeError, ValueError) as exc:
        raise CorruptBatchError(f"a record of {tp.topic}-{tp.partition} batch at offset {header.base_offset} "
                                f"is malformed: {exc}") from None


class Fetcher:
    def __init__(self, client: NetworkClient, subscriptions: SubscriptionState, *, fetch_max_wait_ms: int,
                 fetch_min_bytes: int, fetch_max_bytes: int, max_partition_fetch_bytes: int) -> None:
        self.client = client
        self.subs = subscriptions
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.fetch_min_bytes = fetch_min_bytes
        self.fetch_max_bytes = fetch_max_bytes
        self.max_partition_fetch_bytes = max_partition_fetch_bytes
        self._completed: collections.deque[CompletedFetch] = collections.deque()
        self._in_flight: set[int] = set()
        self._errors: list[BaseException] = []
        self.arrived = asyncio.Event()  # set whenever a Fetch answer (or failure) or awaited metadata lands
        self._metadata_wait: asyncio.Task | None = None

    # positions
    async def reset_positions(self) -> None:
        """Give every partition without a position one, via ListOffsets (earliest / latest)."""
        pending = self.subs.needs_reset()
        if not pending:
            return
        by_node: dict[int, list[dict]] = {}
        for tp, strategy in pending:
            if strategy is None:
                raise NoOffsetForPartitionError(
                    f"no position for {tp.topic}-{tp.partition} and auto_offset_reset='none'; seek() first")
            leader = await self._leader(tp)
            ts = EARLIEST_TIMESTAMP if strategy == "earliest" else LATEST_TIMESTAMP
            by_node.setdefault(leader, []).append({"topic": tp.topic, "partition": tp.partition, "timestamp": ts})
        for node, parts in by_node.items():
            response = await self.client.request(node, ApiKey.LIST_OFFSETS,
                                                 {"replica_id": CONSUMER_REPLICA_ID, "partitions": parts})
            body = response.body
            raise_for(body.get("error", 0), body.get("message"))
            for entry in body["partitions"]:
                tp = TopicPartition(entry["topic"], entry["partition"])
                if entry.get("error", 0):
                    if entry["error"] in _REFRESH_CODES:
                        self.client.request_refresh()
                    error = BrokerError.for_code(entry["error"], entry.get("message"))
                    if not error.retriable:
                        raise error
                elif self.subs.is_assigned(tp) and self.subs.state(tp).position is None:
                    self.subs.seek(tp, entry["offset"])

    async def offsets_for(self, tps: list[TopicPartition], timestamp: int) -> dict[TopicPartition, int]:
        """ListOffsets for `timestamp` (-2 earliest, -1 latest, or a time in ms)."""
        out = {}
        for tp in tps:
            leader = await self._leader(tp)
            response = await self.client.request(leader, ApiKey.LIST_OFFSETS, {
                "replica_id": CONSUMER_REPLICA_ID,
                "partitions": [{"topic": tp.topic, "partition": tp.partition, "timestamp": timestamp}]})
            entry = response.body["partitions"][0]
            raise_for(entry.get("error", 0), entry.get("message"))
            out[tp] = entry["offset"]
        return out

    async def _leader(self, tp: TopicPartition) -> int:
        leader = self.client.cluster.leader_for(tp)
        if leader is None:
            self.client.topics.add(tp.topic)
            await self.client.refresh_metadata()
            leader = self.client.cluster.leader_for(tp)
        if leader is None:
            code, message = self.client.cluster.topic_error(tp.topic)
            raise_for(code or ErrorCode.LEADER_NOT_AVAILABLE,
                      message or f"no leader known for {tp.topic}-{tp.partition}")
        return leader

    # fetching
    def send_fetches(self) -> None:
        """Start a Fetch to every broker leading a partition that has nothing buffered."""
        if self.client.metadata_stale():
            self.client.request_refresh()
        buffered = {c.tp for c in self._completed}
        by_node: dict[int, list[dict]] = {}
        for tp in self.subs.fetchable():
            if tp in buffered:
                continue
            leader = self.client.cluster.leader_for(tp)
            if leader is None:
                self._wake_on_metadata()
                continue
            if leader in self._in_flight:
                continue
            by_node.setdefault(leader, []).append({
                "topic": tp.topic, "partition": tp.partition, "fetch_offset": self.subs.state(tp).position,
                "partition_max_bytes": self.max_partition_fetch_bytes})
        for node, parts in by_node.items():
            self._in_flight.add(node)
            asyncio.get_running_loop().create_task(self._fetch(node, parts))

    def _wake_on_metadata(self) -> None:
        """Refresh metadata and wake the poller when it lands, so that a partition whose
        leader was unknown gets its Fetch in the same poll instead of at the next one."""
        if self._metadata_wait is None or self._metadata_wait.done():
            self._metadata_wait = asyncio.get_running_loop().create_task(self._await_metadata())

    async def _await_metadata(self) -> None:
        try:
            await self.client.refresh_metadata()
        except (ClientError, BrokerError) as exc:
            if not self.client.closed:
                log.info("metadata refresh for fetching failed: %s", exc)
            await asyncio.sleep(self.client.retry_backoff)
        finally:
            self.arrived.set()

    async def _fetch(self, node: int, parts: list[dict]) -> None:
        body = {"replica_id": CONSUMER_REPLICA_ID, "max_wait_ms": self.fetch_max_wait_ms,
                "min_bytes": self.fetch_min_bytes, "max_bytes": self.fetch_max_bytes, "partitions": parts}
        try:
            response = await self.client.request(node, ApiKey.FETCH, body)
            self._handle_response(response.body, response.tail, {(p["topic"], p["partition"]): p["fetch_offset"]
                                                                  for p in parts})
        except ClientError as exc:
            if self.client.closed:
                return
            log.info("fetch from broker %s failed: %s; refreshing metadata", node, exc)
            self.client.request_refresh()
            await asyncio.sleep(self.client.retry_backoff)
        except BrokerError as exc:
            self._errors.append(exc)
        finally:
            self._in_flight.discard(node)
            self.arrived.set()

    def _handle_response(self, body: dict, tail: memoryview, requested: dict) -> None:
        raise_for(body.get("error", 0), body.get("message"))
        pos = 0
        for entry in body.get("partitions", ()):
            size = entry.get("records_size", 0)
            data = tail[pos:pos + size]
            pos += size
            tp = TopicPartition(entry["topic"], entry["partition"])
            fetch_offset = requested.get(tp)
            if fetch_offset is None or not self.subs.is_assigned(tp):
                continue
            state = self.subs.state(tp)
            if state.position != fetch_offset:
                continue  # a seek happened while the Fetch was out: this data is stale
            code = entry.get("error", 0)
            if code:
                self._partition_error(tp, code, entry.get("message"))
                continue
            state.high_watermark = entry.get("high_watermark", -1)
            if size:
                self._completed.append(CompletedFetch(tp, bytes(data), fetch_offset))

    def _partition_error(self, tp: TopicPartition, code: int, message: str | None) -> None:
        if code == ErrorCode.OFFSET_OUT_OF_RANGE and self.subs.default_reset != "none":
            log.info("%s-%s: %s; resetting to %s", tp.topic, tp.partition, message, self.subs.default_reset)
            self.subs.request_reset(tp, self.subs.default_reset)
        elif code in _REFRESH_CODES:
            self.client.request_refresh()
        else:
            self._errors.append(BrokerError.for_code(code, message))

    def fetched_records(self, max_records: int) -> list[ConsumerRecord]:
        """Up to `max_records` decoded records from the buffer; advances positions."""
        self.raise_errors()
        out: list[ConsumerRecord] = []
        while self._completed and len(out) < max_records:
            completed = self._completed[0]
            tp = completed.tp
            state = self.subs.state(tp) if self.subs.is_assigned(tp) else None
            if state is None or state.position != completed.cursor or state.paused:
                self._completed.popleft()  # unassigned, sought elsewhere or paused: fetch again later
                continue
            records = completed.decode()
            take = records[completed.index:completed.index + max_records - len(out)]
            completed.index += len(take)
            if take:
                out.extend(take)
                completed.cursor = state.position = take[-1].offset + 1
            if completed.index >= len(records):
                self._completed.popleft()
        return out

    def raise_errors(self) -> None:
        if self._errors:
            error = self._errors.pop(0)
            raise error

    def has_buffered(self) -> bool:
        return bool(self._completed)

    def clear_buffer(self) -> None:
        self._completed.clear()
