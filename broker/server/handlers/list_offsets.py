"""ListOffsets: earliest (log start), latest (high watermark), or the first record at a time.

A timestamp lookup answers the first record at or after the time, and its timestamp
(record-precise: the log finds the batch with its time index and decodes it); only records
below the high watermark count. Without transactions the last
stable offset is the high watermark, so both isolation levels answer the same. MAX_TIMESTAMP
(-3, v7, KIP-734) answers the first record holding the log's largest timestamp, as Kafka 3.7+
does, or -1 while that record is above the high watermark.
"""

from __future__ import annotations

from typing import Any

from broker.replication.fencing import epoch_refusal
from broker.server.handlers.common import BrokerContext, Reply
from broker.server.partition import Partition
from broker.server.replica_manager import PartitionRefusedError
from client.protocol.api import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.protocol.messages import ListOffsetsResponse as R

MAX_TIMESTAMP = -3


def _first_at_or_after(part: Partition, ts: int) -> tuple[int, int]:
    """(offset, timestamp) of the first record below the high watermark stamped `ts` or later."""
    found = part.log.offset_for_timestamp(ts)  # record-precise: the log decodes the straddling batch
    if found is None or found.offset >= part.high_watermark:
        return -1, -1
    return found.offset, found.timestamp


def _max_timestamp(part: Partition) -> tuple[int, int]:
    found = part.log.max_timestamp_record()
    if found is None or found.offset >= part.high_watermark:
        return -1, -1
    return found.offset, found.timestamp


def _lookup(ctx: BrokerContext, topic: str, entry: Any) -> Any:
    index, ts = entry.partition_index, entry.timestamp
    out = R.ListOffsetsPartitionResponse(partition_index=index, error_code=0, timestamp=-1, offset=-1)
    try:
        part = ctx.replicas.leader_partition(topic, index)
    except PartitionRefusedError as refused:
        out.error_code = int(refused.code)
        return out
    epoch = entry.current_leader_epoch
    refusal = epoch_refusal(epoch if epoch >= 0 else None, part.leader_epoch, leading=part.is_leader)
    if refusal is not None:
        out.error_code = int(refusal)
        return out
    out.leader_epoch = part.leader_epoch
    if ts == EARLIEST_TIMESTAMP:
        out.offset = part.log.log_start_offset
    elif ts == LATEST_TIMESTAMP:
        out.offset = part.high_watermark
    elif ts < 0 and ts != MAX_TIMESTAMP:
        out.error_code = int(ErrorCode.INVALID_REQUEST)
    else:
        try:
            out.offset, out.timestamp = _max_timestamp(part) if ts == MAX_TIMESTAMP else _first_at_or_after(part, ts)
        except OSError:  # a broken disk: this partition only (its log directory goes offline)
            out.error_code = int(ErrorCode.KAFKA_STORAGE_ERROR)
    return out


async def handle(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply:
    return Reply(
        R(
            topics=[
                R.ListOffsetsTopicResponse(name=t.name, partitions=[_lookup(ctx, t.name, e) for e in t.partitions])
                for t in body.topics
            ]
        )
    )
