"""OffsetCommit and OffsetFetch on Kafka's wire: a group's committed positions, kept in `__consumer_offsets`.

OffsetCommit is checked against the member and generation by the group core, written
to the group's offsets partition and answered once the write is replicated; a partition
the cluster does not have gets UNKNOWN_TOPIC_OR_PARTITION and is not written, as in
Kafka. OffsetFetch answers from the coordinator's table (offset -1, metadata "" for a
partition never committed; all committed partitions when the topics are null, v2+).
A request-level refusal (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS) goes on every
partition, except in OffsetFetch v2+, which has a top-level error code for it. Handlers must never change
group state themselves.
"""

from __future__ import annotations

from broker.groups.messages import OffsetCommit, OffsetCommitResult, OffsetFetch, OffsetFetchResult, TopicPartition
from broker.groups.records import OffsetAndMetadata
from broker.server.handlers.common import BrokerContext, Reply
from broker.server.handlers.groups import ask
from client.protocol import messages as m
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader

NO_TIMESTAMP = -1
TOP_LEVEL_ERROR_VERSION = 2  # OffsetFetch v2+ has a top-level error code


def _commit_response(order: list[TopicPartition], errors: dict[TopicPartition, int]) -> Reply:
    """Per topic in request order, each partition with its error."""
    by_topic: dict[str, list[m.OffsetCommitResponse.OffsetCommitResponsePartition]] = {}
    for topic, partition in order:
        by_topic.setdefault(topic, []).append(
            m.OffsetCommitResponse.OffsetCommitResponsePartition(
                partition_index=partition, error_code=errors[(topic, partition)]
            )
        )
    return Reply(
        m.OffsetCommitResponse(
            topics=[
                m.OffsetCommitResponse.OffsetCommitResponseTopic(name=t, partitions=ps) for t, ps in by_topic.items()
            ]
        )
    )


async def offset_commit(ctx: BrokerContext, header: RequestHeader, body: m.OffsetCommitRequest) -> Reply:
    order: list[TopicPartition] = []
    errors: dict[TopicPartition, int] = {}
    offsets: list[tuple[TopicPartition, OffsetAndMetadata]] = []
    for topic in body.topics:
        for p in topic.partitions:
            tp = (topic.name, p.partition_index)
            order.append(tp)
            if not ctx.cache.has_partition(*tp):
                errors[tp] = int(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
                continue
            offsets.append(
                (
                    tp,
                    OffsetAndMetadata(
                        p.committed_offset, p.committed_leader_epoch, p.committed_metadata or "", NO_TIMESTAMP
                    ),
                )
            )
    if not offsets:
        return _commit_response(order, errors)
    r = await ask(
        ctx,
        body.group_id,
        lambda rid: OffsetCommit(
            rid, body.member_id, body.generation_id_or_member_epoch, tuple(offsets), body.group_instance_id
        ),
    )
    if isinstance(r, ErrorCode):
        errors.update({tp: int(r) for tp, _ in offsets})
    else:
        assert isinstance(r, OffsetCommitResult)
        errors.update({tp: int(e) for tp, e in r.partitions})
    return _commit_response(order, errors)


async def offset_fetch(ctx: BrokerContext, header: RequestHeader, body: m.OffsetFetchRequest) -> Reply:
    top_level = header.api_version >= TOP_LEVEL_ERROR_VERSION
    wanted = None if body.topics is None else tuple((t.name, p) for t in body.topics for p in t.partition_indexes)
    r = await ask(ctx, body.group_id, lambda rid: OffsetFetch(rid, wanted))
    if isinstance(r, ErrorCode):
        code = int(r)  # v2+ puts it at the top only; v1 on every partition asked for, as Kafka
        rows = [] if top_level else [(tp, OffsetAndMetadata(-1), code) for tp in wanted or ()]
    else:
        assert isinstance(r, OffsetFetchResult)
        code = int(r.error)
        rows = [(tp, o, 0) for tp, o in r.offsets]
    by_topic: dict[str, list[m.OffsetFetchResponse.OffsetFetchResponsePartition]] = {}
    for (topic, partition), o, err in rows:
        by_topic.setdefault(topic, []).append(
            m.OffsetFetchResponse.OffsetFetchResponsePartition(
                partition_index=partition,
                committed_offset=o.offset,
                committed_leader_epoch=o.leader_epoch,
                metadata=o.metadata,
                error_code=err,
            )
        )
    return Reply(
        m.OffsetFetchResponse(
            error_code=code if top_level else 0,
            topics=[
                m.OffsetFetchResponse.OffsetFetchResponseTopic(name=t, partitions=ps) for t, ps in by_topic.items()
            ],
        )
    )
