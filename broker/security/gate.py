"""What each API needs, checked before its handler runs (when an authorizer is configured).

The table follows Kafka's KafkaApis: Produce WRITE on each topic; consumer Fetch READ, a
follower Fetch CLUSTER_ACTION; ListOffsets and consumer OffsetForLeaderEpoch DESCRIBE on the
topic; Metadata DESCRIBE (undescribable topics are left out of an all-topics answer and
named ones answer TOPIC_AUTHORIZATION_FAILED; auto-creation needs CREATE on the cluster or the
topic); group APIs READ (DescribeGroups, FindCoordinator, OffsetFetch DESCRIBE) on the group
and, for offsets, on the topics; ListGroups shows the groups one may DESCRIBE unless one may
DESCRIBE the cluster; CreateTopics CREATE on the cluster or topic; DeleteTopics and
DeleteRecords DELETE, OffsetDelete DELETE on the group and READ on its topics, CreatePartitions
ALTER, DescribeConfigs DESCRIBE_CONFIGS; InitProducerId IDEMPOTENT_WRITE on the cluster or WRITE
on some topic; LeaderAndIsr, StopReplica,
UpdateMetadata, ControlledShutdown CLUSTER_ACTION; CreateAcls/DeleteAcls and
AlterUserScramCredentials ALTER, DescribeAcls and DescribeUserScramCredentials DESCRIBE on the
cluster. A refusal is Kafka's TOPIC_/GROUP_/CLUSTER_AUTHORIZATION_FAILED. Where a
request carries a list of topics (Produce, consumer Fetch and OffsetForLeaderEpoch, ListOffsets,
OffsetCommit, DeleteRecords, CreatePartitions), the refused topics are taken out before the
handler runs and answered TOPIC_AUTHORIZATION_FAILED beside its answers for the others, as Kafka
does; elsewhere one refusal refuses the request. This module must never run a handler's logic;
it only says no, or trims what the request may touch and what the answer may show.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

from broker.security import session as sessions
from broker.security.acl import Operation as Op
from broker.security.acl import ResourceType as T
from broker.security.authorizer import Authorizer
from broker.server.handlers.common import BrokerContext, Reply, error_response
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.protocol.messages import MetadataResponse

Need = tuple[T, str | None, Op]  # name None: the cluster
_CODES = {
    T.TOPIC: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
    T.GROUP: ErrorCode.GROUP_AUTHORIZATION_FAILED,
    T.CLUSTER: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
}
CLUSTER_ACTION_APIS = (ApiKey.LEADER_AND_ISR, ApiKey.STOP_REPLICA, ApiKey.UPDATE_METADATA, ApiKey.CONTROLLED_SHUTDOWN)


def _topics(items: Any, field: str, op: Op) -> list[Need]:
    return [(T.TOPIC, getattr(t, field), op) for t in items or ()]


def needs(header: RequestHeader, body: Any) -> list[Need]:
    """Every (resource, operation) the request needs, for the simple all-or-nothing APIs."""
    api = header.api_key
    if api in CLUSTER_ACTION_APIS:
        return [(T.CLUSTER, None, Op.CLUSTER_ACTION)]
    if api == ApiKey.PRODUCE:
        return _topics(body.topic_data, "name", Op.WRITE)
    if api == ApiKey.FETCH:
        if body.replica_id >= 0:
            return [(T.CLUSTER, None, Op.CLUSTER_ACTION)]
        return _topics(body.topics, "topic", Op.READ)
    if api == ApiKey.OFFSETS_FOR_LEADER_EPOCH:
        if body.replica_id >= 0:
            return [(T.CLUSTER, None, Op.CLUSTER_ACTION)]
        return _topics(body.topics, "topic", Op.DESCRIBE)
    if api == ApiKey.LIST_OFFSETS:
        return _topics(body.topics, "name", Op.DESCRIBE)
    if api in (ApiKey.JOIN_GROUP, ApiKey.SYNC_GROUP, ApiKey.HEARTBEAT, ApiKey.LEAVE_GROUP):
        return [(T.GROUP, body.group_id, Op.READ)]
    if api == ApiKey.OFFSET_COMMIT:
        return [(T.GROUP, body.group_id, Op.READ), *_topics(body.topics, "name", Op.READ)]
    if api == ApiKey.OFFSET_FETCH:
        return [(T.GROUP, body.group_id, Op.DESCRIBE), *_topics(body.topics, "name", Op.DESCRIBE)]
    if api == ApiKey.DESCRIBE_GROUPS:
        return [(T.GROUP, g, Op.DESCRIBE) for g in body.groups]
    if api == ApiKey.FIND_COORDINATOR:
        keys = body.coordinator_keys if header.api_version >= 4 else [body.key]
        return [(T.GROUP, k, Op.DESCRIBE) for k in keys] if body.key_type == 0 else []
    if api == ApiKey.DELETE_TOPICS:
        names = [t.name for t in body.topics] if header.api_version >= 6 else body.topic_names
        return [(T.TOPIC, n, Op.DELETE) for n in names if n is not None]
    if api == ApiKey.DELETE_RECORDS:
        return _topics(body.topics, "name", Op.DELETE)
    if api == ApiKey.CREATE_PARTITIONS:
        return _topics(body.topics, "name", Op.ALTER)
    if api == ApiKey.DESCRIBE_CONFIGS:
        return [
            (T.TOPIC, r.resource_name, Op.DESCRIBE_CONFIGS)
            if r.resource_type == 2
            else (T.CLUSTER, None, Op.DESCRIBE_CONFIGS)
            for r in body.resources
        ]
    if api in (ApiKey.ALTER_CONFIGS, ApiKey.INCREMENTAL_ALTER_CONFIGS):
        return [
            (T.TOPIC, r.resource_name, Op.ALTER_CONFIGS)
            if r.resource_type == 2
            else (T.CLUSTER, None, Op.ALTER_CONFIGS)
            for r in body.resources
        ]
    if api == ApiKey.DELETE_GROUPS:
        return [(T.GROUP, g, Op.DELETE) for g in body.groups_names]
    if api == ApiKey.OFFSET_DELETE:
        return [(T.GROUP, body.group_id, Op.DELETE), *_topics(body.topics, "name", Op.READ)]
    if api == ApiKey.ELECT_LEADERS:
        return [(T.CLUSTER, None, Op.ALTER)]
    if api in (ApiKey.CREATE_ACLS, ApiKey.DELETE_ACLS):
        return [(T.CLUSTER, None, Op.ALTER)]
    if api in (ApiKey.DESCRIBE_ACLS, ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS):
        return [(T.CLUSTER, None, Op.DESCRIBE)]
    if api == ApiKey.ALTER_USER_SCRAM_CREDENTIALS:
        return [(T.CLUSTER, None, Op.ALTER)]
    return []


# API -> (the request's topic array, the topic name field in it, the operation each topic needs).
PER_TOPIC: dict[int, tuple[str, str, Op]] = {
    ApiKey.PRODUCE: ("topic_data", "name", Op.WRITE),
    ApiKey.FETCH: ("topics", "topic", Op.READ),
    ApiKey.LIST_OFFSETS: ("topics", "name", Op.DESCRIBE),
    ApiKey.OFFSETS_FOR_LEADER_EPOCH: ("topics", "topic", Op.DESCRIBE),
    ApiKey.OFFSET_COMMIT: ("topics", "name", Op.READ),
    ApiKey.DELETE_RECORDS: ("topics", "name", Op.DELETE),
    ApiKey.CREATE_PARTITIONS: ("topics", "name", Op.ALTER),
}


def _per_topic(header: RequestHeader, body: Any) -> tuple[str, str, Op] | None:
    """The topic array to split for this request, or None (followers need CLUSTER_ACTION instead)."""
    if header.api_key in (ApiKey.FETCH, ApiKey.OFFSETS_FOR_LEADER_EPOCH) and body.replica_id >= 0:
        return None
    return PER_TOPIC.get(header.api_key)


async def _split_topics(
    auth: Authorizer,
    session: sessions.Session,
    header: RequestHeader,
    body: Any,
    run: Callable[[], Awaitable[Reply | None]],
    field: str,
    name: str,
    op: Op,
) -> Reply | None:
    """Run the handler on the allowed topics only; answer the others TOPIC_AUTHORIZATION_FAILED."""
    items = getattr(body, field) or []
    denied = [t for t in items if not auth.allowed(session, op, T.TOPIC, getattr(t, name))]
    if not denied:
        return await run()
    refused_ids = {id(t) for t in denied}
    setattr(body, field, [t for t in items if id(t) not in refused_ids])
    reply = await run()
    if reply is None or reply.body is None or reply.close_connection:
        return reply
    refused = copy.copy(body)
    setattr(refused, field, denied)
    errors = error_response(
        header,
        refused,
        ErrorCode.TOPIC_AUTHORIZATION_FAILED,
        f"{session.principal} is not authorized for {op.name} on these topics",
    )
    for f in type(errors)._spec.fields:
        extra = getattr(errors, f.name)
        if f.array and f.struct is not None and f.tag is None and extra:
            setattr(reply.body, f.name, list(getattr(reply.body, f.name) or []) + list(extra))
            break
    return reply


def _allowed(auth: Authorizer, session: sessions.Session, need: Need) -> bool:
    rtype, name, op = need
    return auth.allowed(session, op, rtype, name) if name is not None else auth.allowed(session, op, rtype)


async def guarded(
    ctx: BrokerContext, header: RequestHeader, body: Any, run: Callable[[], Awaitable[Reply | None]]
) -> Reply | None:
    """Run the handler (`run`) if the caller may; otherwise Kafka's refusal."""
    auth: Authorizer | None = getattr(ctx, "authorizer", None)
    session = sessions.current()
    if auth is None or session.local:
        return await run()
    api = header.api_key
    if api == ApiKey.METADATA:
        return await _metadata(auth, session, header, body, run)
    if api == ApiKey.CREATE_TOPICS:
        cluster = auth.allowed(session, Op.CREATE, T.CLUSTER)
        needs_ = [] if cluster else _topics(body.topics, "name", Op.CREATE)
    elif api == ApiKey.INIT_PRODUCER_ID:
        if body.transactional_id is None and not (
            auth.allowed(session, Op.IDEMPOTENT_WRITE, T.CLUSTER) or auth.may_write_some_topic(session)
        ):
            return _refuse(header, body, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, session)
        needs_ = []
    else:
        needs_ = needs(header, body)
    split = _per_topic(header, body)
    for need in needs_:
        if split is not None and need[0] == T.TOPIC:
            continue  # refused per topic below
        if not _allowed(auth, session, need):
            return _refuse(header, body, _CODES[need[0]], session)
    if split is not None:
        return await _split_topics(auth, session, header, body, run, *split)
    reply = await run()
    if api == ApiKey.LIST_GROUPS and reply is not None and not auth.allowed(session, Op.DESCRIBE, T.CLUSTER):
        reply.body.groups = [g for g in reply.body.groups if auth.allowed(session, Op.DESCRIBE, T.GROUP, g.group_id)]
    return reply


def _refuse(header: RequestHeader, body: Any, code: ErrorCode, session: sessions.Session) -> Reply:
    message = f"{session.principal} is not authorized for {ApiKey(header.api_key).name}"
    return Reply(error_response(header, body, code, message))


async def _metadata(
    auth: Authorizer,
    session: sessions.Session,
    header: RequestHeader,
    body: Any,
    run: Callable[[], Awaitable[Reply | None]],
) -> Reply | None:
    denied: list[str] = []
    if body.topics:
        kept = []
        for t in body.topics:
            if t.name is None or auth.allowed(session, Op.DESCRIBE, T.TOPIC, t.name):
                kept.append(t)
            else:
                denied.append(t.name)
        body.topics = kept
        if (
            body.allow_auto_topic_creation
            and not auth.allowed(session, Op.CREATE, T.CLUSTER)
            and not all(t.name is not None and auth.allowed(session, Op.CREATE, T.TOPIC, t.name) for t in kept)
        ):
            body.allow_auto_topic_creation = False
    reply = await run()
    if reply is None or reply.body is None:
        return reply
    answer = reply.body
    answer.topics = [t for t in answer.topics if t.name is None or auth.allowed(session, Op.DESCRIBE, T.TOPIC, t.name)]
    answer.topics += [
        MetadataResponse.MetadataResponseTopic(error_code=int(ErrorCode.TOPIC_AUTHORIZATION_FAILED), name=n)
        for n in denied
    ]
    return reply
