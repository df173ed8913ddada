"""The producer's one background task: drains ready batches into pipelined Produce requests.

Per broker it keeps up to `max_in_flight` requests on the wire; responses are handled in
callbacks (no task per request). A retriable error puts the batch back at the front of
its partition's queue after `retry_backoff_ms` and asks for fresh metadata when the
error means the leader moved or the topic is unknown; a lost connection does the same
for every batch it carried. With `max_in_flight > 1` a retry can reorder batches of one
partition (as in Kafka without idempotence). An idempotent producer (`idempotence` set)
first gets a producer id with InitProducerId, then lets `IdempotenceState` number the
batches, say which heads may go out, and classify every answer, so retries keep their
order and a retry the broker already wrote is not written twice. This module must never
decide which partition a record goes to, and never drop a batch without failing its future.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from client.client import NetworkClient
from client.errors import BrokerConnectionError, ClientError, ClientTimeoutError
from client.producer.accumulator import ProducerBatch, RecordAccumulator
from client.producer.idempotence import IdempotenceState, Verdict
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import INVALID_METADATA, RETRIABLE, BrokerError, ErrorCode
from client.protocol.record_batch import Compression, build_batch

log = logging.getLogger(__name__)

_TopicData = m.ProduceRequest.TopicProduceData
_PartitionData = m.ProduceRequest.PartitionProduceData


def produce_error_message(entry: Any) -> str | None:
    """What the broker said about a refused batch: the partition's message (Produce v8+) and
    the records it named as the cause."""
    parts = [entry.error_message] if entry.error_message else []
    parts += [f"record {e.batch_index}: {e.batch_index_error_message or 'refused'}" for e in entry.record_errors]
    return "; ".join(parts) or None


class Sender:
    def __init__(
        self,
        client: NetworkClient,
        accumulator: RecordAccumulator,
        *,
        acks: int,
        retries: int,
        max_request_size: int,
        max_in_flight: int,
        request_timeout_ms: int,
        delivery_timeout_ms: int,
        compression: Compression = Compression.NONE,
        on_drained=None,
        idempotence: IdempotenceState | None = None,
    ) -> None:
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
        self.idempotence = idempotence
        self._init_task: asyncio.Task | None = None
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
        if self._init_task is not None:
            self._init_task.cancel()

    def kill(self, exc: BaseException) -> None:
        for task in (self._task, self._init_task):
            if task is not None:
                task.cancel()
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
                except TimeoutError:
                    pass

    def _run_once(self, now: float) -> float | None:
        """Send what is ready; returns how long to sleep if nothing new happens (None = forever)."""
        cluster = self.client.cluster
        self.acc.expire(
            now,
            self.delivery_timeout,
            self._expired,
        )
        self._maybe_init_producer_id()
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
            batches = self.acc.drain(
                node,
                cluster.leader_for,
                self.max_request_size,
                now,
                self.idempotence.may_send if self.idempotence is not None else None,
            )
            if batches:
                self._send(node, conn, batches)
        return delay

    def _expired(self, batch: ProducerBatch) -> ClientTimeoutError:
        """Why a batch ran out of time: the broker's last refusal when it answered one (a
        full disk, too few in-sync replicas), else a leader that never answered."""
        answer = batch.last_answer
        if answer is None:
            why = "is the partition's leader up?"
        else:
            text = str(answer)
            if isinstance(answer, BrokerError) and text == answer.code.name:  # no message: show the number too
                text = f"{answer.code.name} ({int(answer.code)})"
            why = f"the last answer from the broker was {text}"
        return ClientTimeoutError(
            f"batch for {batch.tp.topic}-{batch.tp.partition} not delivered within {self.delivery_timeout:.0f}s "
            f"(delivery_timeout_ms); {why}"
        )

    def _send(self, node: int, conn, batches: list[ProducerBatch]) -> None:
        topics: dict[str, list] = {}
        for batch in batches:
            if self.idempotence is not None:
                if batch.base_sequence < 0:  # first trip
                    self._track(batch)
                self.idempotence.sent(batch)
            if batch.encoded is None:
                batch.encoded = build_batch(
                    batch.records,
                    compression=self.compression,
                    producer_id=batch.producer_id,
                    producer_epoch=batch.producer_epoch,
                    base_sequence=batch.base_sequence,
                )
            topics.setdefault(batch.tp.topic, []).append(
                _PartitionData(index=batch.tp.partition, records=batch.encoded)
            )
            if self.on_drained is not None:
                self.on_drained(batch.tp)
        request = m.ProduceRequest(
            acks=self.acks,
            timeout_ms=self.timeout_ms,
            topic_data=[_TopicData(name=topic, partition_data=parts) for topic, parts in topics.items()],
        )
        try:
            fut = conn.send(ApiKey.PRODUCE, request, expect_response=self.acks != 0)
        except (BrokerConnectionError, BrokerError) as exc:  # closed, or no Produce version we share
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
        by_tp = {(topic.name, p.index): p for topic in fut.result().responses for p in topic.partition_responses}
        for batch in batches:
            entry = by_tp.get(batch.tp)
            if entry is None:
                self._complete(batch, ErrorCode.UNKNOWN_SERVER_ERROR, "broker's answer left this partition out", None)
            else:
                self._complete(batch, entry.error_code, produce_error_message(entry), entry)

    def _complete(self, batch: ProducerBatch, code: int, message: str | None, entry: Any) -> None:
        """Act on the broker's answer for one batch: done, split, retry or fail."""
        idem = self.idempotence
        if code == ErrorCode.MESSAGE_TOO_LARGE and len(batch.records) > 1:
            halves = self.acc.split(batch)  # many small records, a topic with a low max.message.bytes
            if idem is not None:
                idem.replace(batch, halves)
                for half in halves:
                    self._track(half)
            return
        if idem is not None:
            verdict = idem.answered(batch, code)
        else:
            verdict = Verdict.DONE if code == ErrorCode.NONE else Verdict.RETRY if code in RETRIABLE else Verdict.FAIL
        if verdict is Verdict.DONE:  # a DUPLICATE_SEQUENCE_NUMBER answer may carry no offset
            batch.done(entry.base_offset if code == ErrorCode.NONE else -1, entry.log_append_time_ms)
            return
        error = BrokerError.for_code(code, message)
        if code in INVALID_METADATA:
            self.client.request_refresh()
        if verdict is Verdict.RETRY and batch.attempts < self.retries:
            log.debug("retrying %s-%s after %s", batch.tp.topic, batch.tp.partition, error)
            batch.last_answer = error
            self.acc.reenqueue(batch, time.monotonic())
        else:
            self._fail(batch, error)

    def _retry_all(self, batches: list[ProducerBatch], exc: BaseException) -> None:
        self.client.request_refresh()
        now = time.monotonic()
        for batch in batches:
            if self.idempotence is not None:
                self.idempotence.unanswered(batch)
            if isinstance(exc, ClientError) and batch.attempts < self.retries:
                self.acc.reenqueue(batch, now)
            else:
                self._fail(batch, exc)

    def _track(self, batch: ProducerBatch) -> None:
        """However a numbered batch ends (done, failed, expired, aborted), it leaves the
        idempotence bookkeeping, so it can never hold up its partition's later batches."""
        assert self.idempotence is not None
        idem = self.idempotence
        batch.future.add_done_callback(lambda _f: idem.forget(batch))

    def _fail(self, batch: ProducerBatch, exc: BaseException) -> None:
        batch.fail(exc)
        if self.idempotence is not None:
            self.idempotence.forget(batch)  # now, so the answers that follow see the next batch as the oldest

    def _maybe_init_producer_id(self) -> None:
        """Ask for a producer id when records wait for one and nothing is in flight."""
        idem = self.idempotence
        if idem is None or not idem.needs_producer_id or self._init_task is not None:
            return
        if idem.in_flight() or not self.acc.has_queued():
            return  # a reset waits for every answer: their batches get new sequences too
        self._init_task = asyncio.get_running_loop().create_task(self._init_producer_id())

    async def _init_producer_id(self) -> None:
        """InitProducerId against any broker, retried after retry_backoff_ms while retriable."""
        assert self.idempotence is not None
        request = m.InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60000)
        try:
            while not self.acc.closing or self.acc.has_queued():
                try:
                    answer = await self.client.any_request(ApiKey.INIT_PRODUCER_ID, request)
                except ClientError as exc:
                    log.warning("InitProducerId failed (%s); retrying", exc)
                else:
                    code = answer.error_code
                    if code == ErrorCode.NONE:
                        self.idempotence.set_producer_id(answer.producer_id, answer.producer_epoch)
                        log.debug("producer id %d epoch %d", answer.producer_id, answer.producer_epoch)
                        return
                    error = BrokerError.for_code(code)
                    if not error.retriable:
                        self.acc.abort_all(
                            BrokerError.for_code(
                                code, "InitProducerId refused; enable_idempotence=False sends without it"
                            )
                        )
                        return
                    log.warning("InitProducerId refused: %s; retrying", error)
                await asyncio.sleep(self.client.retry_backoff)
        finally:
            self._init_task = None
            self.acc.wakeup.set()

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
