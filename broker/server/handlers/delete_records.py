"""DeleteRecords: move a partition's log start offset up (Kafka's DeleteRecords, KIP-107).

The leader moves its log start to the given offset (-1: the high watermark); records below
it can no longer be fetched, and whole segments below it go at the next retention pass.
Offsets past the high watermark are refused with OFFSET_OUT_OF_RANGE. Unlike Kafka, the
answer does not wait for the followers' log starts to follow. This module must never
delete files itself.
"""

from __future__ import annotations

from typing import Any

from broker.server.handlers.common import BrokerContext, Reply
from broker.server.replica_manager import PartitionRefusedError
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.protocol.messages import DeleteRecordsResponse as R

HIGH_WATERMARK = -1


def _delete(ctx: BrokerContext, topic: str, entry: Any) -> Any:
    out = R.DeleteRecordsPartitionResult(partition_index=entry.partition_index, low_watermark=-1, error_code=0)
    try:
        part = ctx.replicas.leader_partition(topic, entry.partition_index)
    except PartitionRefusedError as refused:
        out.error_code = int(refused.code)
        return out
    offset = part.high_watermark if entry.offset == HIGH_WATERMARK else entry.offset
    if not 0 <= offset <= part.high_watermark:
        out.error_code = int(ErrorCode.OFFSET_OUT_OF_RANGE)
        return out
    try:
        part.log.delete_records_before(offset)
    except OSError:  # the checkpoint could not be written: this partition only
        out.error_code = int(ErrorCode.KAFKA_STORAGE_ERROR)
        return out
    out.low_watermark = part.log.log_start_offset
    return out


async def handle(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply:
    return Reply(
        R(
            topics=[
                R.DeleteRecordsTopicResult(name=t.name, partitions=[_delete(ctx, t.name, e) for e in t.partitions])
                for t in body.topics
            ]
        )
    )
