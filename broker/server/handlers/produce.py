"""Produce: validate each partition's batches, append them, wait for acks, answer.

The batch is appended as the client built it (or re-encoded in the codec the topic's
compression.type names, broker/server/recompress.py), once the leader's validator
(broker/log/validator.py) has checked that its header tells the truth about its records;
the log checks headers and CRCs and rewrites base offsets. The partition's replication core does
the append and decides when it is acknowledged: acks=1 after the append (and, when the
topic demands an fsync per message, after the group-commit flush that covers it);
acks=all once the high watermark passes the batch, refused up front with
NOT_ENOUGH_REPLICAS when the ISR is below min.insync.replicas; acks=0 answers nothing
and, as in Kafka, closes the connection if an append failed. Produce v0-2 (the message
formats before RecordBatch v2, which a pybroker log never holds), transactional produce
and produce to an internal topic are refused per partition.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from broker.log import RecordTooLargeError, validate_for_append
from broker.log.partition_log import AppendInfo
from broker.log.validator import decompression_limit
from broker.replication.messages import ErrorCode as ReplicaError
from broker.server.handlers.common import BrokerContext, Reply
from broker.server.handlers.metadata import INTERNAL_TOPICS
from broker.server.idempotence import SequenceRefusedError
from broker.server.partition import Partition, ProduceResult
from broker.server.recompress import recompress, target_codec
from broker.server.replica_manager import PartitionRefusedError
from client.protocol.api import ACKS_ALL, ACKS_NONE, MIN_PRODUCE_RECORD_VERSION, NO_TIMESTAMP
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.protocol.messages import ProduceResponse as R
from client.protocol.record_batch import CorruptBatchError, decode_batch

Result = Any  # a ProduceResponse.PartitionProduceResponse


def _result(index: int, code: int, message: str | None, log_start_offset: int = -1) -> Result:
    return R.PartitionProduceResponse(
        index=index,
        error_code=int(code),
        base_offset=-1,
        log_append_time_ms=NO_TIMESTAMP,
        log_start_offset=log_start_offset,
        error_message=message,
    )


def _append(
    ctx: BrokerContext, topic: str, entry: Any, acks: int, timeout_ms: int
) -> tuple[Result, list[asyncio.Future]]:
    """Append one partition's records; its result entry and what must finish before the ack."""
    partition, records = entry.index, entry.records
    try:
        part = ctx.replicas.leader_partition(topic, partition)
    except PartitionRefusedError as refused:
        return _result(partition, refused.code, refused.message), []
    plog = part.log
    if records is None:
        return _result(
            partition, ErrorCode.CORRUPT_MESSAGE, f"{topic}-{partition}: null records", plog.log_start_offset
        ), []
    try:
        validate_for_append(records, plog.config)  # Kafka's LogValidator: the header tells the truth
        meta = ctx.cache.topic(topic)
        codec = target_codec(meta.configs) if meta is not None else None
        if codec is not None:  # the topic's compression.type: stored in that codec
            records = recompress(records, codec, decompression_limit(plog.config))
        admission = ctx.producer_states.admit(plog, part.leader_epoch, records)  # idempotence: sequences
        replicated: asyncio.Future[Any]
        if admission.duplicate is not None:
            replicated = asyncio.ensure_future(_duplicate(ctx, part, admission.duplicate, acks))
        else:
            # The replication core appends as leader (stamping its epoch) and answers at once
            # for acks=0/1, or once the high watermark passes the batch for acks=all.
            end = plog.log_end_offset
            replicated = part.produce(bytes(records), acks, timeout_ms)
            if plog.log_end_offset > end:  # appended (not refused up front): record the batch
                admission.appended(end)
                if ctx.metrics is not None:
                    ctx.metrics.produced(topic, plog.log_end_offset - end, len(records))
    except SequenceRefusedError as exc:  # idempotence: gap, fenced epoch, bad producer fields
        code, message = exc.code, f"{topic}-{partition}: {exc.message}"
    except CorruptBatchError as exc:  # damaged: CORRUPT_MESSAGE; intact but lying: INVALID_RECORD
        code, message = exc.code, f"{topic}-{partition}: {exc}"
        if code == ErrorCode.INVALID_RECORD and plog.config.compacted:
            result = _result(partition, code, message, plog.log_start_offset)
            result.record_errors = _keyless(records)
            return result, []
    except RecordTooLargeError as exc:
        code, message = ErrorCode.MESSAGE_TOO_LARGE, f"{topic}-{partition}: {exc}"
    except OSError as exc:  # a failed write or fsync (LogStorageError too): fail-stop for this log, never acked
        code, message = ErrorCode.KAFKA_STORAGE_ERROR, f"{topic}-{partition}: the log cannot be written: {exc}"
    else:
        ctx.logs.appended(topic, partition)
        waits: list[asyncio.Future[Any]] = [replicated]
        if acks != ACKS_NONE and plog.config.flush_messages == 1:
            waits.append(asyncio.ensure_future(ctx.logs.sync(plog)))
        return _result(partition, ErrorCode.NONE, None, plog.log_start_offset), waits
    return _result(partition, code, message, plog.log_start_offset), []


def _keyless(records: Any) -> list[Any]:
    """The records of a refused batch that a compacted topic cannot take (no key), named by
    their index in the batch as Kafka does (KIP-467), so a client fails only those records."""
    try:
        decoded = decode_batch(records, 0, check_crc=False)
    except CorruptBatchError:
        return []
    return [
        R.BatchIndexAndErrorMessage(
            batch_index=i, batch_index_error_message="a compacted topic needs a key on every record"
        )
        for i, r in enumerate(decoded)
        if r.key is None
    ]


async def _duplicate(ctx: BrokerContext, part: Partition, original: AppendInfo, acks: int) -> ProduceResult:
    """A retried idempotent batch already in the log: answer with its original offsets,
    for acks=all only once the high watermark covers it (as the first attempt would have)."""
    while acks == ACKS_ALL and part.high_watermark <= original.last_offset:
        if not part.is_leader:
            return ProduceResult(
                ReplicaError.NOT_LEADER_OR_FOLLOWER,
                -1,
                f"broker {part.broker_id} no longer leads {part}; the write may or may not survive",
            )
        await ctx.wakeups.arrival(part.topic, part.partition)
    return ProduceResult(ReplicaError.NONE, original.first_offset)


def _fail(result: Result, code: int, message: str | None) -> None:
    result.error_code, result.error_message = int(code), message


async def _await_acks(results: list[Result], waits: list[list[asyncio.Future]], timeout_ms: int) -> None:
    pending = [f for fs in waits for f in fs]
    if not pending:
        return
    await asyncio.wait(pending, timeout=max(timeout_ms, 0) / 1000)
    for result, futures in zip(results, waits, strict=True):
        for fut in futures:
            if not fut.done():
                fut.cancel()
                _fail(
                    result,
                    ErrorCode.REQUEST_TIMED_OUT,
                    f"not acknowledged within timeout_ms={timeout_ms}; the records may or may not have been written",
                )
            elif fut.cancelled() or result.error_code != 0:
                continue
            elif fut.exception() is not None:
                exc = fut.exception()
                _fail(result, getattr(exc, "code", ErrorCode.KAFKA_STORAGE_ERROR), str(exc))
            elif isinstance(fut.result(), ProduceResult):
                done = fut.result()
                if done.error == 0:
                    result.base_offset = done.base_offset
                else:
                    _fail(result, done.error, done.message)


def _refuse_all(body: Any, code: ErrorCode, message: str) -> Any:
    return R(
        responses=[
            R.TopicProduceResponse(
                name=t.name, partition_responses=[_result(p.index, code, message) for p in t.partition_data]
            )
            for t in body.topic_data
        ]
    )


async def handle(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply | None:
    acks, timeout_ms = body.acks, body.timeout_ms
    if header.api_version < MIN_PRODUCE_RECORD_VERSION:
        return Reply(
            _refuse_all(
                body,
                ErrorCode.UNSUPPORTED_VERSION,
                f"Produce v{header.api_version} carries a message format before RecordBatch "
                f"v2; this broker needs Produce v{MIN_PRODUCE_RECORD_VERSION} or later",
            )
        )
    if body.transactional_id is not None:
        return Reply(
            _refuse_all(
                body, ErrorCode.INVALID_REQUEST, "transactions are not supported: produce without a transactional id"
            )
        )
    if acks not in (ACKS_NONE, 1, ACKS_ALL):
        return Reply(_refuse_all(body, ErrorCode.INVALID_REQUIRED_ACKS, f"acks must be 0, 1 or -1 (all), not {acks}"))
    response = R(responses=[])
    results, waits = [], []
    for topic in body.topic_data:
        answers = []
        for entry in topic.partition_data:
            wait: list[asyncio.Future[Any]]
            if topic.name in INTERNAL_TOPICS:  # written by the brokers only, as in Kafka
                result, wait = (
                    _result(
                        entry.index,
                        ErrorCode.INVALID_TOPIC_EXCEPTION,
                        f"{topic.name} is an internal topic: clients cannot produce to it",
                    ),
                    [],
                )
            else:
                result, wait = _append(ctx, topic.name, entry, acks, timeout_ms)
            answers.append(result)
            results.append(result)
            waits.append(wait)
        response.responses.append(R.TopicProduceResponse(name=topic.name, partition_responses=answers))
        if ctx.metrics is not None:
            ctx.metrics.produce_request(topic.name, sum(1 for a in answers if a.error_code))
    if acks == ACKS_NONE:
        failed = next((r for r in results if r.error_code), None)
        return None if failed is None else Reply(None, close_connection=True, close_reason=failed.error_message or "")
    await _await_acks(results, waits, timeout_ms)
    if ctx.cache.cut_off(time.monotonic(), ctx.config.coord_session_timeout_ms / 1000):
        _redirect_timeouts(results)
    return Reply(response)


def _redirect_timeouts(results: list[Result]) -> None:
    """We have been cut off from coord past our session timeout, so the controller has
    most likely moved our leadership and our acks=all writes time out because the new
    epoch's followers no longer fetch from us. REQUEST_TIMED_OUT would have the client
    retry here; NOT_LEADER_OR_FOLLOWER (which, as in Kafka, does not say the records were
    not appended) makes it refresh its metadata elsewhere and find the new leader."""
    for result in results:
        if result.error_code == ErrorCode.REQUEST_TIMED_OUT:
            _fail(
                result,
                ErrorCode.NOT_LEADER_OR_FOLLOWER,
                "not acknowledged, and this broker has been cut off from coord past its "
                "session timeout: leadership has probably moved; refresh metadata",
            )
