"""Fetch: a long poll that answers with record bytes straight from the segment files.

Consumers (replica_id -1) fetch from the leader and read only below the high watermark;
followers (replica_id = their broker id) may read up to the log end, and their fetch
offset is their log end offset, which the leader's replication core records (ISR,
high watermark). The long poll wakes on appends and on high-watermark moves.

Each partition's `records` is a `ReadSlice` (file, position, length) that the connection
sends with sendfile; this handler only decides which bytes. If fewer than min_bytes are
available it waits for an append to any requested partition or for max_wait_ms, whichever
comes first. Limits are soft as in Kafka (KIP-74): the first non-empty partition always
returns at least one whole batch. Fetch sessions (KIP-227) are not kept: every response
says session 0, so clients send full requests; an incremental request naming a session
gets FETCH_SESSION_ID_NOT_FOUND. Without transactions the last stable offset is the high
watermark, whatever the isolation level. A consumer that says which leader epoch it last
fetched (v12) is told where its log diverged from ours instead of getting records. A
partition named more than once is read and answered once, with its last mention's fields
(Kafka keeps the request's partitions in a map): a request must not open a descriptor per mention.
"""

from __future__ import annotations

import asyncio
from typing import Any

from broker.log import OffsetOutOfRangeError
from broker.metrics import BrokerMetrics
from broker.replication.fencing import epoch_refusal
from broker.server.handlers.common import BrokerContext, Reply, Slice
from broker.server.handlers.replica_control import follower_refusal
from broker.server.partition import Partition
from broker.server.replica_manager import PartitionRefusedError
from client.protocol.api import CONSUMER_REPLICA_ID
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.protocol.messages import FetchResponse as R

Data = Any  # a FetchResponse.PartitionData
_LEADERSHIP_ERRORS = frozenset(
    {ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.UNKNOWN_LEADER_EPOCH}
)


def _answer(partition: int, code: int, hw: int = -1, log_start: int = -1) -> Data:
    return R.PartitionData(
        partition_index=partition,
        error_code=int(code),
        high_watermark=hw,
        last_stable_offset=hw,
        log_start_offset=log_start,
        aborted_transactions=None,
        records=b"",
    )


def _with_leader(ctx: BrokerContext, topic: str, answer: Data) -> Data:
    """A refusal for leadership reasons names the leader we know (v12), so the client can go
    there without asking for metadata first."""
    if answer.error_code in _LEADERSHIP_ERRORS:
        state = ctx.cache.state(topic, answer.partition_index)
        if state is not None:
            answer.current_leader = R.LeaderIdAndEpoch(leader_id=state.leader, leader_epoch=state.leader_epoch)
    return answer


def _diverging(part: Partition, entry: Any) -> Any | None:
    """Where the consumer's log diverged from ours (KIP-320, v12): the end of the newest epoch
    we hold at or below the one it last fetched, when that ends before its fetch offset or
    names an older epoch; the consumer truncates there before fetching again."""
    answer = part.epoch_query(CONSUMER_REPLICA_ID, part.leader_epoch, entry.last_fetched_epoch)
    if answer.error != 0 or answer.end_offset < 0:  # an epoch older than the log remembers: nothing to say
        return None
    if answer.epoch >= entry.last_fetched_epoch and answer.end_offset >= entry.fetch_offset:
        return None
    return R.EpochEndOffset(epoch=answer.epoch, end_offset=answer.end_offset)


def _read_one(ctx: BrokerContext, topic: str, entry: Any, budget: int, replica_id: int) -> tuple[Data, Slice | None]:
    partition, offset, epoch = entry.partition, entry.fetch_offset, entry.current_leader_epoch
    try:
        if replica_id >= 0:
            part = ctx.replicas.hosted(topic, partition)
        else:
            part = ctx.replicas.leader_partition(topic, partition)
    except PartitionRefusedError as refused:
        return _with_leader(ctx, topic, _answer(partition, refused.code)), None
    plog = part.log
    if replica_id >= 0:
        # A follower: the replication core records its position (ISR, high watermark) and
        # fences stale epochs; it may read up to the log end.
        answer = part.follower_fetch(replica_id, epoch, offset)
        hw, max_offset, code = answer.high_watermark, None, ErrorCode(int(answer.error))
    else:
        hw, max_offset = part.high_watermark, part.high_watermark
        refusal = epoch_refusal(epoch if epoch >= 0 else None, part.leader_epoch, leading=part.is_leader)
        code = ErrorCode.NONE if refusal is None else ErrorCode(int(refusal))
    if code != ErrorCode.NONE:
        return _with_leader(ctx, topic, _answer(partition, code, hw, plog.log_start_offset)), None
    # Offsets between the high watermark and the log end are valid, just not readable yet
    # (a new leader's watermark can trail its predecessor's for a moment).
    end = plog.log_end_offset
    if not plog.log_start_offset <= offset <= end:
        return _answer(partition, ErrorCode.OFFSET_OUT_OF_RANGE, hw, plog.log_start_offset), None
    result = _answer(partition, ErrorCode.NONE, hw, plog.log_start_offset)
    if replica_id < 0 and entry.last_fetched_epoch >= 0:
        diverging = _diverging(part, entry)
        if diverging is not None:
            result.diverging_epoch = diverging
            return result, None
    readable = end if max_offset is None else max_offset
    if offset < readable and budget > 0:
        try:
            data = plog.read(offset, max(min(entry.partition_max_bytes, budget), 1), max_offset=max_offset)
        except OffsetOutOfRangeError:  # retention moved the start after our check
            return _answer(partition, ErrorCode.OFFSET_OUT_OF_RANGE, hw, plog.log_start_offset), None
        except OSError:  # a broken disk: this partition only (its log directory goes offline)
            return _answer(partition, ErrorCode.KAFKA_STORAGE_ERROR, hw, plog.log_start_offset), None
        if data.length == 0:
            data.close()
        else:
            result.records = data
            return result, data
    return result, None


def _distinct(topics: list[Any]) -> dict[str, dict[int, Any]]:
    """topic -> partition -> the partition's last mention, in order of first mention."""
    wanted: dict[str, dict[int, Any]] = {}
    for topic in topics:
        partitions = wanted.setdefault(topic.topic, {})
        for entry in topic.partitions:
            partitions[entry.partition] = entry
    return wanted


def _read_all(
    ctx: BrokerContext, wanted: dict[str, dict[int, Any]], replica_id: int, max_bytes: int
) -> tuple[Any, list[Slice], bool]:
    """One pass over the partitions: the response, its file slices, and whether any failed."""
    response = R(error_code=0, session_id=0, responses=[])
    slices: list[Slice] = []
    total, failed = 0, False
    for topic, entries in wanted.items():
        answers = []
        for entry in entries.values():
            result, data = _read_one(ctx, topic, entry, max_bytes - total, replica_id)
            answers.append(result)
            failed = failed or result.error_code != 0
            if data is not None:
                slices.append(data)
                total += data.length
        response.responses.append(R.FetchableTopicResponse(topic=topic, partitions=answers))
    return response, slices, failed


async def handle(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply:
    if body.session_id != 0 or body.session_epoch > 0:
        return Reply(R(error_code=int(ErrorCode.FETCH_SESSION_ID_NOT_FOUND), session_id=0))
    if body.replica_id >= 0:  # a follower: a registered broker of this cluster only
        refusal = follower_refusal(ctx, "Fetch", body.replica_id, body.cluster_id)
        if refusal is not None:
            return Reply(
                R(
                    error_code=int(refusal[0]),
                    session_id=0,
                    responses=[
                        R.FetchableTopicResponse(
                            topic=t.topic, partitions=[_answer(p.partition, refusal[0]) for p in t.partitions]
                        )
                        for t in body.topics
                    ],
                )
            )
    max_bytes = min(body.max_bytes, ctx.config.fetch_max_bytes)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(body.max_wait_ms, 0) / 1000
    wanted = _distinct(body.topics)
    partitions = [(topic, p) for topic, entries in wanted.items() for p in entries]
    while True:
        # Register interest before reading, so an append between the read and the wait
        # still wakes us.
        arrivals = [ctx.wakeups.arrival(*tp) for tp in partitions if tp in ctx.replicas.partitions]
        response, slices, failed = _read_all(ctx, wanted, body.replica_id, max_bytes)
        remaining = deadline - loop.time()
        if sum(s.length for s in slices) >= body.min_bytes or failed or remaining <= 0 or not arrivals:
            if ctx.metrics is not None:
                _count(ctx.metrics, response, body.replica_id >= 0)
            return Reply(response)
        for data in slices:
            data.close()
        await asyncio.wait(arrivals, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)


def _count(metrics: BrokerMetrics, response: Any, follower: bool) -> None:
    """Bytes out per topic, once per answered request (never per record)."""
    for topic in response.responses:
        metrics.fetched(topic.topic, sum(getattr(p.records, "length", 0) for p in topic.partitions), follower)
