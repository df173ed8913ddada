"""ListOffsets: earliest (log start), latest (high watermark), or first offset at a time."""

from __future__ import annotations

from client.protocol.api import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP
from client.protocol.errors import ErrorCode

from broker.server.handlers.common import BrokerContext, Reply, get_entries, partition_error
from broker.server.replica_manager import PartitionRefused


def _lookup(ctx: BrokerContext, entry: dict) -> dict:
    topic, partition, ts = entry.get("topic"), entry.get("partition"), entry.get("timestamp")
    try:
        part = ctx.replicas.leader_partition(topic, partition)
    except PartitionRefused as refused:
        return partition_error(topic, partition, refused.code, refused.message, timestamp=-1, offset=-1,
                               leader_epoch=-1)
    if type(ts) is not int or ts < EARLIEST_TIMESTAMP:
        return partition_error(topic, partition, ErrorCode.INVALID_REQUEST,
                               f"timestamp must be -2 (earliest), -1 (latest) or a time in ms, not {ts!r}",
                               timestamp=-1, offset=-1, leader_epoch=-1)
    if ts == EARLIEST_TIMESTAMP:
        offset, found_ts = part.log.log_start_offset, -1
    elif ts == LATEST_TIMESTAMP:
        offset, found_ts = part.high_watermark, -1
    else:
        found = part.log.offset_for_timestamp(ts)  # the first record at or after ts: its offset and timestamp
        offset, found_ts = (-1, -1) if found is None or found.offset >= part.high_watermark else \
            (found.offset, found.timestamp)
    return partition_error(topic, partition, ErrorCode.NONE, None, timestamp=found_ts, offset=offset,
                           leader_epoch=part.leader_epoch)


async def handle(ctx: BrokerContext, body: dict) -> Reply:
    return Reply({"partitions": [_lookup(ctx, e) for e in get_entries(body)]})
