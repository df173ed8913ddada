"""The consumer's fetch pipeline: Fetch requests to partition leaders, decoded records out.

At most one Fetch in flight per broker, for the assigned, unpaused partitions that have
no undelivered data buffered; Fetch is sessionless (the broker keeps no fetch state). Each
partition's records field (whole batches, perhaps a partial one last) is kept as raw bytes;
records are decoded (one `decode_batch` call per batch) only when the
application polls, and records below the position (the start of the first batch) are
skipped. Handing out the last buffered records of a partition immediately sends the
next Fetch, so the network works while the application does. Also resets positions with
ListOffsets (in the background for poll). Errors are handled as Kafka's consumer does
(`classify_error`): a leader moving or unreachable only delays its partitions, which keep
their positions. This module must never block the application on a Fetch it does not
need, nor hand it an error that retrying can cure.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
import time
from typing import Any

from client.client import NetworkClient
from client.consumer.subscription_state import SubscriptionState
from client.errors import ClientError, ClientTimeoutError, NoOffsetForPartitionError
from client.protocol import messages as m
from client.protocol.api import CONSUMER_REPLICA_ID, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, ApiKey
from client.protocol.errors import (
    INVALID_METADATA,
    RETRIABLE,
    BrokerError,
    ErrorCode,
    UnknownTopicOrPartitionError,
    UnsupportedVersionError,
)
from client.protocol.record_batch import CorruptBatchError, decode_batch, iter_batches
from client.structs import ConsumerRecord, TopicPartition
from client.tasks import cancel_and_wait

log = logging.getLogger(__name__)


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
    """The batch at `pos` as ConsumerRecords (crc checked, every record decoded), built
    by the decoder itself: a second pass over the records would cost a third more."""
    try:
        return decode_batch(buf, pos, cls=ConsumerRecord, head=(tp.topic, tp.partition))
    except CorruptBatchError as exc:
        raise type(exc)(f"{tp.topic}-{tp.partition}: {exc}") from None


class FetchAction(enum.Enum):
    """What the consumer does about an error code in a Fetch or ListOffsets answer."""

    REFRESH = "forget the partition's leader, refresh metadata, retry once a leader is known"
    RETRY = "retry the partition after retry_backoff_ms"
    RESET = "reset the position per auto_offset_reset"
    RAISE = "hand the error to the application from poll()"


def classify_error(code: int, auto_offset_reset: str) -> FetchAction:
    """Kafka's consumer rules: leadership and metadata errors (NOT_LEADER_OR_FOLLOWER,
    FENCED/UNKNOWN_LEADER_EPOCH, LEADER_NOT_AVAILABLE, ...) are retried against the new
    leader, other retriable ones after a backoff; OFFSET_OUT_OF_RANGE resets unless
    auto_offset_reset is "none"; everything else (including CORRUPT_MESSAGE, which a
    fetch cannot cure by asking again) reaches the application."""
    if code == ErrorCode.OFFSET_OUT_OF_RANGE:
        return FetchAction.RAISE if auto_offset_reset == "none" else FetchAction.RESET
    if code in INVALID_METADATA:
        return FetchAction.REFRESH
    if code in RETRIABLE and code != ErrorCode.CORRUPT_MESSAGE:
        return FetchAction.RETRY
    return FetchAction.RAISE


class Fetcher:
    def __init__(
        self,
        client: NetworkClient,
        subscriptions: SubscriptionState,
        *,
        fetch_max_wait_ms: int,
        fetch_min_bytes: int,
        fetch_max_bytes: int,
        max_partition_fetch_bytes: int,
    ) -> None:
        self.client = client
        self.subs = subscriptions
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.fetch_min_bytes = fetch_min_bytes
        self.fetch_max_bytes = fetch_max_bytes
        self.max_partition_fetch_bytes = max_partition_fetch_bytes
        self._completed: collections.deque[CompletedFetch] = collections.deque()
        self._in_flight: set[int] = set()
        self._errors: list[BaseException] = []
        self._backoff_until: dict[TopicPartition, float] = {}  # partitions that failed: not before then
        self._missing_since: dict[TopicPartition, float] = {}  # partitions absent from their topic's metadata
        self.arrived = asyncio.Event()  # set whenever a Fetch answer (or failure) or awaited metadata lands
        self._metadata_wait: asyncio.Task | None = None
        self._resetting: asyncio.Task | None = None
        self._fetches: set[asyncio.Task] = set()  # Fetch requests in flight (held: a loop keeps only weak refs)

    async def close(self) -> None:
        """Cancel and await the background work (position resets, metadata waits, fetches)."""
        await cancel_and_wait([self._resetting, self._metadata_wait, *self._fetches])

    # positions
    def start_resets(self) -> None:
        """(poll) Look up positions for partitions awaiting a reset, in the background, so a
        dead leader never blocks poll; raises NoOffsetForPartitionError at once."""
        pending = self._pending_resets()
        if pending and (self._resetting is None or self._resetting.done()):
            self._resetting = asyncio.get_running_loop().create_task(self._reset_in_background(pending))

    async def _reset_in_background(self, pending: dict[TopicPartition, int]) -> None:
        try:
            if len(await self._list_offsets(pending)) < len(pending):
                await asyncio.sleep(self.client.retry_backoff)
        except (BrokerError, ClientError) as exc:  # not retriable: poll hands it to the application
            self._errors.append(exc)
        finally:
            self.arrived.set()

    async def reset_positions(self) -> None:
        """(position) Look up positions now, retrying retriable failures (a leader moving, a
        broker down) for up to request_timeout_ms, as Kafka's position() does."""
        deadline = time.monotonic() + self.client.request_timeout_ms / 1000
        while pending := self._pending_resets():
            if len(await self._list_offsets(pending)) == len(pending):
                return
            self._check_deadline(deadline, f"positions of {sorted(pending)}")
            await asyncio.sleep(self.client.retry_backoff)

    def _pending_resets(self) -> dict[TopicPartition, int]:
        """Partitions awaiting a reset -> the ListOffsets timestamp of their strategy."""
        for tp, strategy in self.subs.needs_reset():
            if strategy is None:
                raise NoOffsetForPartitionError(
                    f"no position for {tp.topic}-{tp.partition} and auto_offset_reset='none'; seek() first"
                )
        return self._pending_resets_quietly()

    def _pending_resets_quietly(self) -> dict[TopicPartition, int]:
        return {
            tp: EARLIEST_TIMESTAMP if strategy == "earliest" else LATEST_TIMESTAMP
            for tp, strategy in self.subs.needs_reset()
            if strategy is not None
        }

    async def offsets_for(self, tps: list[TopicPartition], timestamp: int) -> dict[TopicPartition, int]:
        """ListOffsets for `timestamp` (-2 earliest, -1 latest, or a time in ms), retrying
        retriable failures for up to request_timeout_ms."""
        deadline = time.monotonic() + self.client.request_timeout_ms / 1000
        out: dict[TopicPartition, int] = {}
        while missing := {tp: timestamp for tp in tps if tp not in out}:
            out.update(await self._list_offsets(missing, seek=False))
            if len(out) < len(tps):
                self._check_deadline(deadline, f"offsets of {sorted(missing)}")
                await asyncio.sleep(self.client.retry_backoff)
        return out

    def _check_deadline(self, deadline: float, what: str) -> None:
        if time.monotonic() + self.client.retry_backoff >= deadline:
            raise ClientTimeoutError(
                f"{what} not found within {self.client.request_timeout_ms} ms "
                "(request_timeout_ms): are the partitions' leaders up?"
            )

    async def _list_offsets(self, wanted: dict[TopicPartition, int], seek: bool = True) -> dict[TopicPartition, int]:
        """One ListOffsets round to the leaders of `wanted` (partition -> timestamp). Returns
        the offsets found (and seeks assigned partitions still without a position to them,
        if `seek`); partitions with an unknown leader or a retriable failure are left out,
        with a metadata refresh requested. Raises only errors that are not retriable."""
        by_node: dict[int, dict[TopicPartition, int]] = {}
        for tp, ts in wanted.items():
            leader = self.client.cluster.leader_for(tp)
            if leader is None:
                code, message = self.client.cluster.topic_error(tp.topic)
                if code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION or (code and code not in RETRIABLE):
                    # the metadata says there is no such topic: a clear error, not a silent wait
                    raise BrokerError.for_code(code, message or f"topic {tp.topic!r} does not exist")
                self._check_partition_exists(tp)
                self.client.topics.add(tp.topic)
                self.client.request_refresh()
                continue
            by_node.setdefault(leader, {})[tp] = ts
        answers = await asyncio.gather(*(self._list_offsets_from(node, parts) for node, parts in by_node.items()))
        found = {}
        still_pending = self._pending_resets_quietly() if seek else {}
        for entries in answers:
            for tp, code, offset in entries:
                if tp not in wanted:
                    continue  # a partition we did not ask for: a confused broker, ignored
                if code:
                    action = classify_error(code, "none")
                    if action is FetchAction.RAISE:
                        raise BrokerError.for_code(code, f"ListOffsets of {tp.topic}-{tp.partition}")
                    if action is FetchAction.REFRESH:
                        self.client.cluster.forget_leader(tp)
                        self.client.request_refresh()
                    continue
                found[tp] = offset
                if seek and still_pending.get(tp) == wanted[tp]:  # not sought elsewhere meanwhile
                    self.subs.seek(tp, offset)
        return found

    def _check_partition_exists(self, tp: TopicPartition) -> None:
        """Raise UnknownTopicOrPartitionError if metadata fetched after we first missed `tp`
        still lists its topic without it (a partition added meanwhile appears in that
        refresh, so one stale answer is not taken for a missing partition)."""
        parts = self.client.cluster.partitions_for(tp.topic)
        if parts is None or tp.partition in parts:
            self._missing_since.pop(tp, None)
            return
        first_missed = self._missing_since.setdefault(tp, time.monotonic())
        if self.client.refreshed_at > first_missed:
            raise UnknownTopicOrPartitionError(
                f"topic {tp.topic!r} has {len(parts)} partitions (0-{len(parts) - 1}); there is no partition "
                f"{tp.partition}: assign one of those (or add partitions to the topic)"
            )

    async def _list_offsets_from(
        self, node: int, wanted: dict[TopicPartition, int]
    ) -> list[tuple[TopicPartition, int, int]]:
        """(partition, error code, offset) per partition of one ListOffsets answer ([] if the broker failed us)."""
        topics: dict[str, list] = {}
        for tp, ts in wanted.items():
            topics.setdefault(tp.topic, []).append(
                m.ListOffsetsRequest.ListOffsetsPartition(partition_index=tp.partition, timestamp=ts)
            )
        request = m.ListOffsetsRequest(
            replica_id=CONSUMER_REPLICA_ID,
            topics=[
                m.ListOffsetsRequest.ListOffsetsTopic(name=name, partitions=parts) for name, parts in topics.items()
            ],
        )
        try:
            answer = await self.client.request(node, ApiKey.LIST_OFFSETS, request)
        except ClientError as exc:
            if not self.client.closed:
                log.info("ListOffsets to broker %s failed: %s; refreshing metadata", node, exc)
                self.client.request_refresh()
            return []
        return [
            (TopicPartition(t.name, p.partition_index), p.error_code, p.offset)
            for t in answer.topics
            for p in t.partitions
        ]

    # fetching
    def send_fetches(self) -> None:
        """Start a Fetch to every broker leading a partition that has nothing buffered."""
        if self.client.metadata_stale():
            self.client.request_refresh()
        buffered = {c.tp for c in self._completed}
        now = time.monotonic()
        by_node: dict[int, dict[TopicPartition, int]] = {}
        for tp in self.subs.fetchable():
            if tp in buffered or self._backoff_until.get(tp, 0.0) > now:
                continue
            leader = self.client.cluster.leader_for(tp)
            if leader is None:
                self._check_partition_exists(tp)
                self._wake_on_metadata()
                continue
            if leader in self._in_flight:
                continue
            position = self.subs.state(tp).position
            if position is None:  # fetchable() says known; a reset may be pending meanwhile
                continue
            by_node.setdefault(leader, {})[tp] = position
        for node, parts in by_node.items():
            self._in_flight.add(node)
            task = asyncio.get_running_loop().create_task(self._fetch(node, parts))
            self._fetches.add(task)
            task.add_done_callback(self._fetches.discard)

    def _wake_on_metadata(self) -> None:
        """Refresh metadata and wake the poller when it lands, so that a partition whose
        leader was unknown gets its Fetch in the same poll instead of at the next one."""
        if self._metadata_wait is None or self._metadata_wait.done():
            self._metadata_wait = asyncio.get_running_loop().create_task(self._await_metadata())

    async def _await_metadata(self) -> None:
        try:
            await self.client.refresh_metadata()
            if any(self.client.cluster.leader_for(tp) is None for tp in self.subs.fetchable()):
                await asyncio.sleep(self.client.retry_backoff)  # an election is still under way
        except (ClientError, BrokerError) as exc:
            if not self.client.closed:
                log.info("metadata refresh for fetching failed: %s", exc)
            await asyncio.sleep(self.client.retry_backoff)
        finally:
            self.arrived.set()

    def fetch_request(self, positions: dict[TopicPartition, int]) -> Any:
        """A sessionless Fetch (session 0, epoch -1: the broker keeps no state between fetches)
        for `positions`, read committed and uncommitted alike (we write no transactions)."""
        topics: dict[str, list] = {}
        for tp, offset in positions.items():
            topics.setdefault(tp.topic, []).append(
                m.FetchRequest.FetchPartition(
                    partition=tp.partition, fetch_offset=offset, partition_max_bytes=self.max_partition_fetch_bytes
                )
            )
        return m.FetchRequest(
            replica_id=CONSUMER_REPLICA_ID,
            max_wait_ms=self.fetch_max_wait_ms,
            min_bytes=self.fetch_min_bytes,
            max_bytes=self.fetch_max_bytes,
            session_id=0,
            session_epoch=-1,
            topics=[m.FetchRequest.FetchTopic(topic=name, partitions=parts) for name, parts in topics.items()],
        )

    async def _fetch(self, node: int, positions: dict[TopicPartition, int]) -> None:
        try:
            answer = await self.client.request(node, ApiKey.FETCH, self.fetch_request(positions))
            self._handle_response(answer, positions)
        except UnsupportedVersionError as exc:  # the broker serves no Fetch version we speak
            self._errors.append(exc)
        except ClientError as exc:  # connection lost, refused or timed out: the leader may be gone
            if self.client.closed:
                return
            log.info("fetch from broker %s failed: %s; refreshing metadata", node, exc)
            self.client.request_refresh()
            await asyncio.sleep(self.client.retry_backoff)
        finally:
            self._in_flight.discard(node)
            self.arrived.set()

    def _handle_response(self, answer: Any, requested: dict[TopicPartition, int]) -> None:
        if answer.error_code:  # a request-level refusal (Fetch v7+) applies to every partition in it
            for tp in requested:
                self._partition_error(tp, answer.error_code, f"fetch of {tp.topic}-{tp.partition}")
            return
        for topic in answer.responses:
            for entry in topic.partitions:
                tp = TopicPartition(topic.topic, entry.partition_index)
                fetch_offset = requested.get(tp)
                if fetch_offset is None or not self.subs.is_assigned(tp):
                    continue
                state = self.subs.state(tp)
                if state.position != fetch_offset:
                    continue  # a seek happened while the Fetch was out: this data is stale
                if entry.error_code:
                    self._partition_error(
                        tp, entry.error_code, f"fetch of {tp.topic}-{tp.partition} at offset {fetch_offset}"
                    )
                    continue
                state.high_watermark = entry.high_watermark
                if entry.records:  # whole batches, maybe a partial one last (iter_batches drops it)
                    self._completed.append(CompletedFetch(tp, bytes(entry.records), fetch_offset))

    def _partition_error(self, tp: TopicPartition, code: int, message: str | None) -> None:
        action = classify_error(code, self.subs.default_reset)
        if action is FetchAction.RAISE:
            self._errors.append(BrokerError.for_code(code, message))
        elif action is FetchAction.RESET:
            log.info("%s-%s: %s; resetting to %s", tp.topic, tp.partition, message, self.subs.default_reset)
            self.subs.request_reset(tp, self.subs.default_reset)
        else:
            log.info("fetch of %s-%s: %s; %s", tp.topic, tp.partition, ErrorCode(code).name, action.value)
            if action is FetchAction.REFRESH:
                self.client.cluster.forget_leader(tp)
                self.client.request_refresh()
            self._backoff_until[tp] = time.monotonic() + self.client.retry_backoff
            asyncio.get_running_loop().call_later(self.client.retry_backoff, self.arrived.set)

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
            take = records[completed.index : completed.index + max_records - len(out)]
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

    def clear_buffer(self) -> None:
        self._completed.clear()
