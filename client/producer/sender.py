"""The producer's one background task: drains ready batches into pipelined Produce requests.

Per broker it keeps up to `max_in_flight` requests on the wire; responses are handled in
callbacks (no task per request). A retriable error puts the batch back at the front of
its partition's queue after `retry_backoff_ms` and asks for fresh metadata when the
error means the leader moved or the topic is unknown; a lost connection does the same
for every batch it carried. With `max_in_flight > 1` a retry can reorder batches of one
partition (as in Kafka without idempotence). This module must never decide which
partition a record goes to, and never drop a batch without failing its future.
"""

from __future__ import annotations

import asyncio
import logging
import time

from client.client import NetworkClient
from client.errors import BrokerConnectionError, ClientError, ClientTimeoutError
from client.producer.accumulator import ProducerBatch, RecordAccumulator
from client.protocol.api import ApiKey
from client.protocol.errors import BrokerError, ErrorCode
from client.protocol.record_batch import Compression, build_batch

log = logging.getLogger(__name__)

# Errors after which the leader may have moved: refresh metadata before retrying.
_REFRESH_CODES = frozenset({ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.LEADER_NOT_AVAILABLE,
                            ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.FENCED_LEADER_EPOCH})


class Sender:
    def __init__(self, client: NetworkClient, accumulator: RecordAccumulator, *, acks: int, retries: int,
                 max_request_size: int, max_in_flight: int, request_timeout_ms: int,
                 delivery_timeout_ms: int, compression: Compression = Compression.NONE, on_drained=None) -> None:
        self.client = client
        self.acc = accumulator
        self.acks = acks
        self.retries = retries
        self.max_request_size = max_request_size
        self.max_in_flight = max_in_flight
        self.timeout_ms = request_timeout_ms
        self.delivery_timeout = delivery_timeout_ms / 1000
        self.compression = compression
        self.on_drained = on_drained
        self._in_flight: dict[int, int] = {}
        self._connecting: set[int] = set()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="pybroker-producer-sender")

    async def stop(self) -> None:
        """Send everything queued (closing makes every batch ready), then end the task."""
        self.acc.closing = True
        self.acc.wakeup.set()
        if self._task is not None:
            await self._task

    def kill(self, exc: BaseException) -> None:
        if self._task is not None:
            self._task.cancel()
        self.acc.abort_all(exc)

    async def _run(self) -> None:
        acc = self.acc
        while True:
            acc.wakeup.clear()
            delay = self._run_once(time.monotonic())
            if acc.closing and not acc.has_queued() and not any(self._in_flight.values()):
                return
            if delay is None or delay > 0:
                try:
                    await asyncio.wait_for(acc.wakeup.wait(), delay)
                except asyncio.TimeoutError:
                    pass

    def _run_once(self, now: float) -> float | None:
        """Send what is ready; returns how long to sleep if nothing new happens (None = forever)."""
        cluster = self.client.cluster
        self.acc.expire(now, self.delivery_timeout, lambda b: ClientTimeoutError(
            f"batch for {b.tp.topic}-{b.tp.partition} not delivered within {self.delivery_timeout:.0f}s "
            f"(delivery_timeout_ms); is the partition's leader up?"))
        nodes, delay, unknown = self.acc.ready(now, cluster.leader_for)
        if unknown:
            self.client.topics.update(unknown)
            self.client.request_refresh()
            # Nothing wakes the sender when the refresh lands (a leader election may still
            # be under way: the answer can say "no leader" again), so look again after the
            # backoff instead of sleeping until the next send.
            delay = self.client.retry_backoff if delay is None else min(delay, self.client.retry_backoff)
        elif self.client.metadata_stale():
            self.client.request_refresh()
            delay = self.client.retry_backoff if delay is None else min(delay, self.client.retry_backoff)
        for node in nodes:
            if self._in_flight.get(node, 0) >= self.max_in_flight:
                continue
            conn = self.client.connection_now(node)
            if conn is None:
                self._connect(node)
                continue
            batches = self.acc.drain(node, cluster.leader_for, self.max_request_size, now)
            if batches:
                self._send(node, conn, batches)
        return delay

    def _send(self, node: int, conn, batches: list[ProducerBatch]) -> None:
        partitions = []
        for batch in batches:
            if batch.encoded is None:
                batch.encoded = build_batch(batch.records, compression=self.compression)
            partitions.append({"topic": batch.tp.topic, "partition": batch.tp.partition, "records": batch.encoded})
            if self.on_drained is not None:
                self.on_drained(batch.tp)
        body = {"acks": self.acks, "timeout_ms": self.timeout_ms, "partitions": partitions}
        try:
            fut = conn.send(ApiKey.PRODUCE, body, expect_response=self.acks != 0)
        except BrokerConnectionError as exc:
            self._retry_all(batches, exc)
            return
        if fut is None:  # acks=0: written is all we will ever know
            for batch in batches:
                batch.done(-1, -1)
            return
        self._in_flight[node] = self._in_flight.get(node, 0) + 1
        fut.add_done_callback(lambda f: self._on_response(node, batches, f))

    def _on_response(self, node: int, batches: list[ProducerBatch], fut: asyncio.Future) -> None:
        self._in_flight[node] -= 1
        self.acc.wakeup.set()
        exc = fut.exception()
        if exc is not None:
            self._retry_all(batches, exc)
            return
        body = fut.result().body
        top = body.get("error", 0)
        if top:
            for batch in batches:
                self._handle_error(batch, top, body.get("message"))
            return
        by_tp = {(p["topic"], p["partition"]): p for p in body.get("partitions", ())}
        for batch in batches:
            entry = by_tp.get(batch.tp)
            if entry is None:
                self._handle_error(batch, ErrorCode.UNKNOWN_SERVER_ERROR, "broker's answer left this partition out")
            elif entry.get("error", 0):
                self._handle_error(batch, entry["error"], entry.get("message"))
            else:
                batch.done(entry["base_offset"], entry.get("log_append_time", -1))

    def _handle_error(self, batch: ProducerBatch, code: int, message: str | None) -> None:
        if code == ErrorCode.MESSAGE_TOO_LARGE and len(batch.records) > 1:
            self.acc.split(batch)  # many small records, a topic with a low max.message.bytes
            return
        error = BrokerError.for_code(code, message)
        if code in _REFRESH_CODES:
            self.client.request_refresh()
        if error.retriable and batch.attempts < self.retries:
            log.debug("retrying %s-%s after %s", batch.tp.topic, batch.tp.partition, error)
            self.acc.reenqueue(batch, time.monotonic())
        else:
            batch.fail(error)

    def _retry_all(self, batches: list[ProducerBatch], exc: BaseException) -> None:
        self.client.request_refresh()
        now = time.monotonic()
        for batch in batches:
            if isinstance(exc, ClientError) and batch.attempts < self.retries:
                self.acc.reenqueue(batch, now)
            else:
                batch.fail(exc)

    def _connect(self, node: int) -> None:
        if node in self._connecting:
            return
        self._connecting.add(node)

        async def connect() -> None:
            try:
                await self.client.connection(node)
            except ClientError as exc:
                log.warning("producer cannot reach broker %s: %s", node, exc)
                self.client.request_refresh()
                await asyncio.sleep(self.client.retry_backoff)
            finally:
                self._connecting.discard(node)
                self.acc.wakeup.set()

        asyncio.get_running_loop().create_task(connect())
