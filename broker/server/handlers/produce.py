"""Produce: validate each partition's batches, append them, wait for acks, answer.

The batch is appended as the client built it, once the leader's validator
(broker/log/validator.py) has checked that its header tells the truth about its records;
the log checks headers and CRCs and rewrites base offsets. The partition's replication core does
the append and decides when it is acknowledged: acks=1 after the append (and, when the
topic demands an fsync per message, after the group-commit flush that covers it);
acks=all once the high watermark passes the batch, refused up front with
NOT_ENOUGH_REPLICAS when the ISR is below min.insync.replicas; acks=0 answers nothing
and, as in Kafka, closes the connection if an append failed.
"""

from __future__ import annotations

import asyncio
import time

from client.protocol.api import ACKS_ALL, ACKS_LEADER, ACKS_NONE, NO_TIMESTAMP
from client.protocol.errors import ErrorCode
from client.protocol.record_batch import CorruptBatchError

from broker.log import RecordTooLargeError, validate_for_append
from broker.log.partition_log import AppendInfo
from broker.replication.messages import ErrorCode as ReplicaError
from broker.server.handlers.common import BrokerContext, MalformedRequest, Reply, get, get_entries, partition_error
from broker.server.idempotence import SequenceRefused
from broker.server.partition import Partition, ProduceResult
from broker.server.replica_manager import PartitionRefused


def _append(ctx: BrokerContext, entry: dict, acks: int, timeout_ms: int) -> tuple[dict, list[asyncio.Future]]:
    """Append one partition's records; its result entry and what must finish before the ack."""
    topic, partition, records = entry.get("topic"), entry.get("partition"), entry.get("records")
    if not isinstance(records, (bytes, bytearray)):
        raise MalformedRequest("records must be binary (msgpack bin)")
    try:
        part = ctx.replicas.leader_partition(topic, partition)
    except PartitionRefused as refused:
        return partition_error(topic, partition, refused.code, refused.message, base_offset=-1,
                               log_append_time=NO_TIMESTAMP, log_start_offset=-1), []
    plog = part.log
    try:
        validate_for_append(records, plog.config)  # Kafka's LogValidator: the header tells the truth
        admission = ctx.logs.producer_states.admit(plog, part.leader_epoch, records)  # idempotence: sequences
        if admission.duplicate is not None:
            replicated = asyncio.ensure_future(_duplicate(ctx, part, admission.duplicate, acks))
        else:
            # The replication core appends as leader (stamping its epoch) and answers at once
            # for acks=0/1, or once the high watermark passes the batch for acks=all.
            end = plog.log_end_offset
            replicated = part.produce(bytes(records), acks, timeout_ms)
            if plog.log_end_offset > end:  # appended (not refused up front): record the batch
                admission.appended(end)
    except SequenceRefused as exc:  # idempotence: gap, fenced epoch, bad producer fields
        code, message = exc.code, f"{topic}-{partition}: {exc.message}"
    except CorruptBatchError as exc:  # damaged: CORRUPT_MESSAGE; intact but lying: INVALID_RECORD
        code, message = exc.code, f"{topic}-{partition}: {exc}"
    except RecordTooLargeError as exc:
        code, message = ErrorCode.MESSAGE_TOO_LARGE, f"{topic}-{partition}: {exc}"
    else:
        ctx.logs.appended(topic, partition)
        waits = [replicated]
        if acks != ACKS_NONE and plog.config.flush_messages == 1:
            waits.append(asyncio.ensure_future(ctx.logs.sync(plog)))
        return partition_error(topic, partition, ErrorCode.NONE, None, base_offset=-1,
                               log_append_time=NO_TIMESTAMP, log_start_offset=plog.log_start_offset), waits
    return partition_error(topic, partition, code, message, base_offset=-1, log_append_time=NO_TIMESTAMP,
                           log_start_offset=plog.log_start_offset), []


async def _duplicate(ctx: BrokerContext, part: Partition, original: AppendInfo, acks: int) -> ProduceResult:
    """A retried idempotent batch already in the log: answer with its original offsets,
    for acks=all only once the high watermark covers it (as the first attempt would have)."""
    while acks == ACKS_ALL and part.high_watermark <= original.last_offset:
        if not part.is_leader:
            return ProduceResult(ReplicaError.NOT_LEADER_OR_FOLLOWER, -1,
                                 f"broker {part.broker_id} no longer leads {part}; the write may or may not survive")
        await ctx.logs.arrival(part.topic, part.partition)
    return ProduceResult(ReplicaError.NONE, original.first_offset)


async def _await_acks(results: list[dict], waits: list[list[asyncio.Future]], timeout_ms: int) -> None:
    pending = [f for fs in waits for f in fs]
    if not pending:
        return
    await asyncio.wait(pending, timeout=max(timeout_ms, 0) / 1000)
    for result, futures in zip(results, waits):
        for fut in futures:
            if not fut.done():
                fut.cancel()
                result.update(error=int(ErrorCode.REQUEST_TIMED_OUT),
                              message=f"not acknowledged within timeout_ms={timeout_ms}; the records may "
                                      "or may not have been written")
            elif fut.cancelled() or result["error"] != 0:
                continue
            elif fut.exception() is not None:
                exc = fut.exception()
                code = getattr(exc, "code", ErrorCode.KAFKA_STORAGE_ERROR)
                result.update(error=int(code), message=str(exc))
            elif isinstance(fut.result(), ProduceResult):
                done = fut.result()
                if done.error == 0:
                    result.update(base_offset=done.base_offset)
                else:
                    result.update(error=int(done.error), message=done.message)


async def handle(ctx: BrokerContext, body: dict) -> Reply | None:
    acks = get(body, "acks", int, ACKS_LEADER)
    timeout_ms = get(body, "timeout_ms", int, 30000)
    entries = get_entries(body)
    if acks not in (ACKS_NONE, ACKS_LEADER, ACKS_ALL):
        return Reply({"partitions": [
            partition_error(e.get("topic"), e.get("partition"), ErrorCode.INVALID_REQUIRED_ACKS,
                            f"acks must be 0, 1 or -1 (all), not {acks}", base_offset=-1,
                            log_append_time=NO_TIMESTAMP, log_start_offset=-1) for e in entries]})
    results, waits = [], []
    for entry in entries:
        result, wait = _append(ctx, entry, acks, timeout_ms)
        results.append(result)
        waits.append(wait)
    if acks == ACKS_NONE:
        failed = any(r["error"] for r in results)
        return Reply({}, close_connection=True) if failed else None
    await _await_acks(results, waits, timeout_ms)
    if ctx.cache.cut_off(time.monotonic(), ctx.config.coord_session_timeout_ms / 1000):
        _redirect_timeouts(results)
    return Reply({"partitions": results})


def _redirect_timeouts(results: list[dict]) -> None:
    """We have been cut off from coord past our session timeout, so the controller has
    most likely moved our leadership and our acks=all writes time out because the new
    epoch's followers no longer fetch from us. REQUEST_TIMED_OUT would have the client
    retry here; NOT_LEADER_OR_FOLLOWER (which, as in Kafka, does not say the records were
    not appended) makes it refresh its metadata elsewhere and find the new leader."""
    for result in results:
        if result["error"] == ErrorCode.REQUEST_TIMED_OUT:
            result.update(error=int(ErrorCode.NOT_LEADER_OR_FOLLOWER),
                          message="not acknowledged, and this broker has been cut off from coord past its "
                                  "session timeout: leadership has probably moved; refresh metadata")
