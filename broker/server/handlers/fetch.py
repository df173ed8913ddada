"""Fetch: a long poll that answers with record bytes straight from the segment files.

Consumers (replica_id -1) fetch from the leader and read only below the high watermark;
followers (replica_id = their broker id) may read up to the log end, and their fetch
offset is their log end offset, which the leader's replication core records (ISR,
high watermark). The long poll wakes on appends and on high-watermark moves.

Each partition's answer is a `ReadSlice` (file, position, length) that the connection
sends with sendfile after the msgpack header; this handler only decides which bytes.
If fewer than min_bytes are available it waits for an append to any requested partition
or for max_wait_ms, whichever comes first. Limits are soft as in Kafka (KIP-74): the
first non-empty partition always returns at least one whole batch.
"""

from __future__ import annotations

import asyncio

from client.protocol.api import CONSUMER_REPLICA_ID
from client.protocol.errors import ErrorCode

from broker.log import OffsetOutOfRangeError
from broker.server.handlers.common import BrokerContext, MalformedRequest, Reply, Slice, get, get_entries, partition_error
from broker.server.replica_manager import PartitionRefused

DEFAULT_PARTITION_MAX_BYTES = 1048576


def _read_one(ctx: BrokerContext, entry: dict, budget: int, replica_id: int) -> tuple[dict, Slice | None]:
    topic, partition, offset = entry.get("topic"), entry.get("partition"), entry.get("fetch_offset")
    limit = entry.get("partition_max_bytes", DEFAULT_PARTITION_MAX_BYTES)
    epoch = entry.get("current_leader_epoch", -1)
    if type(offset) is not int or type(limit) is not int or type(epoch) is not int:
        raise MalformedRequest("fetch_offset, partition_max_bytes and current_leader_epoch must be integers")
    empty = {"high_watermark": -1, "last_stable_offset": -1, "log_start_offset": -1, "records_size": 0,
             "leader_epoch": -1}
    try:
        if replica_id >= 0:
            part = ctx.replicas.hosted(topic, partition)
        else:
            part = ctx.replicas.leader_partition(topic, partition)
    except PartitionRefused as refused:
        return partition_error(topic, partition, refused.code, refused.message, **empty), None
    plog = part.log
    if replica_id >= 0:
        # A follower: the replication core records its position (ISR, high watermark) and
        # fences stale epochs; it may read up to the log end.
        answer = part.follower_fetch(replica_id, epoch, offset)
        hw, max_offset, code = answer.high_watermark, None, ErrorCode(int(answer.error))
        message = None if code == ErrorCode.NONE else (
            f"{topic}-{partition}: follower {replica_id} at leader epoch {epoch}, this broker "
            f"{ctx.config.broker_id} is at leader epoch {answer.leader_epoch} ({code.name})")
    else:
        hw, max_offset, code, message = part.high_watermark, part.high_watermark, ErrorCode.NONE, None
        if epoch >= 0 and epoch != part.leader_epoch:
            code = ErrorCode.FENCED_LEADER_EPOCH if epoch < part.leader_epoch else ErrorCode.UNKNOWN_LEADER_EPOCH
            message = f"{topic}-{partition} is at leader epoch {part.leader_epoch}, the fetch says {epoch}"
    offsets = {"high_watermark": hw, "last_stable_offset": hw, "log_start_offset": plog.log_start_offset,
               "leader_epoch": part.leader_epoch}
    if code != ErrorCode.NONE:
        return partition_error(topic, partition, code, message, **offsets, records_size=0), None
    # Offsets between the high watermark and the log end are valid, just not readable yet
    # (a new leader's watermark can trail its predecessor's for a moment).
    end = plog.log_end_offset
    if not plog.log_start_offset <= offset <= end:
        return partition_error(topic, partition, ErrorCode.OFFSET_OUT_OF_RANGE,
                               f"fetch offset {offset} is outside [{plog.log_start_offset}, {end}] for "
                               f"{topic}-{partition}", **offsets, records_size=0), None
    data = None
    readable = end if max_offset is None else max_offset
    if offset < readable and budget > 0:
        try:
            data = plog.read(offset, max(min(limit, budget), 1), max_offset=max_offset)
        except OffsetOutOfRangeError as exc:  # retention moved the start after our check
            return partition_error(topic, partition, ErrorCode.OFFSET_OUT_OF_RANGE, str(exc),
                                   **offsets, records_size=0), None
        if data.length == 0:
            data.close()
            data = None
    size = data.length if data is not None else 0
    return partition_error(topic, partition, ErrorCode.NONE, None, **offsets, records_size=size), data


def _read_all(ctx: BrokerContext, entries: list[dict], max_bytes: int,
              replica_id: int) -> tuple[Reply, int, bool]:
    """One pass over the partitions: the reply, its record bytes, and whether any failed."""
    results, slices, total, failed = [], [], 0, False
    for entry in entries:
        result, data = _read_one(ctx, entry, max_bytes - total, replica_id)
        results.append(result)
        failed = failed or result["error"] != 0
        if data is not None:
            slices.append(data)
            total += data.length
    return Reply({"partitions": results}, tail=slices), total, failed


async def handle(ctx: BrokerContext, body: dict) -> Reply:
    replica_id = get(body, "replica_id", int, CONSUMER_REPLICA_ID)
    max_wait_ms = get(body, "max_wait_ms", int, 500)
    min_bytes = get(body, "min_bytes", int, 1)
    max_bytes = min(get(body, "max_bytes", int, 52428800), ctx.config.fetch_max_bytes)
    entries = get_entries(body)
    if not all(isinstance(e.get("topic"), str) and type(e.get("partition")) is int for e in entries):
        raise MalformedRequest("every partition entry needs a string topic and an integer partition")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(max_wait_ms, 0) / 1000
    while True:
        # Register interest before reading, so an append between the read and the wait
        # still wakes us.
        arrivals = [ctx.logs.arrival(*tp) for tp in
                    ((e.get("topic"), e.get("partition")) for e in entries) if tp in ctx.replicas.partitions]
        reply, total, failed = _read_all(ctx, entries, max_bytes, replica_id)
        remaining = deadline - loop.time()
        if total >= min_bytes or failed or remaining <= 0 or not arrivals:
            return reply
        for data in reply.tail:
            data.close()
        await asyncio.wait(arrivals, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
