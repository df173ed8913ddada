"""Metadata: brokers, cluster id, controller, and every requested topic's partitions.

Answered from the metadata cache without touching coord, except when a requested topic does
not exist and both the request (`allow_auto_topic_creation`, true before v4) and the broker
(auto.create.topics.enable) allow creating it: then it is created as CreateTopics would, with
num.partitions and default.replication.factor, by the controller (asked over the wire when it
is another broker; the topic then answers LEADER_NOT_AVAILABLE until its metadata arrives).
A partition whose leader is not live answers
LEADER_NOT_AVAILABLE with its replicas, and the replicas on dead brokers are `offline_replicas`.
Each broker is named by its endpoint on the listener the request arrived on (a broker without
that listener is left out, as in Kafka), so clients stay on the listener they chose. When asked
(KIP-430), each topic (v8+) and the cluster (v8-10) carry the caller's authorized operations.
"""

from __future__ import annotations

import time
from typing import Any

from broker.groups.offsets_topic import OFFSETS_TOPIC
from broker.metadata.cache import TopicMetadata
from broker.security import session
from broker.security.acl import ResourceType as T
from broker.security.authorized_ops import NOT_REQUESTED, authorized_operations
from broker.server.handlers.common import BrokerContext, Reply
from broker.server.to_controller import ControllerUnreachableError, ask_controller
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.protocol.messages import MetadataResponse as R

# Topics Kafka marks internal (clients hide them from pattern subscriptions).
INTERNAL_TOPICS = frozenset({OFFSETS_TOPIC})


def _topic_entry(topic: TopicMetadata, live: set[int]) -> Any:
    partitions = []
    for p, replicas in sorted(topic.assignment.items()):
        state = topic.states.get(p)
        leader = state.leader if state is not None and state.leader in live else -1
        partitions.append(
            R.MetadataResponsePartition(
                error_code=int(ErrorCode.NONE if leader >= 0 else ErrorCode.LEADER_NOT_AVAILABLE),
                partition_index=p,
                leader_id=leader,
                leader_epoch=state.leader_epoch if state is not None else -1,
                replica_nodes=list(replicas),
                isr_nodes=list(state.isr) if state is not None else [],
                offline_replicas=[r for r in replicas if r not in live],
            )
        )
    return R.MetadataResponseTopic(
        error_code=0,
        name=topic.name,
        topic_id=topic.topic_id,
        is_internal=topic.name in INTERNAL_TOPICS,
        partitions=partitions,
    )


def _requested(header: RequestHeader, body: Any, ctx: BrokerContext) -> list[str]:
    """The topic names asked for: all of them for a null list (or, in v0, an empty one)."""
    if body.topics is None or (header.api_version == 0 and not body.topics):
        return sorted(ctx.cache.topics)
    return [t.name for t in body.topics]


async def _auto_create(ctx: BrokerContext, name: str) -> Any | None:
    """Create `name` as CreateTopics would (here if we are the controller, else by asking
    it); the topic's error entry if that was refused or is still under way."""
    cfg = ctx.config
    refusal: tuple[ErrorCode, str | None] | None = await ctx.controller.create_topic(
        name, cfg.num_partitions, cfg.default_replication_factor, {}
    )
    if refusal is not None and refusal[0] == ErrorCode.NOT_CONTROLLER:
        refusal = await _ask_controller_to_create(ctx, name)
        if refusal is None:  # created; its metadata reaches us by UpdateMetadata: the client asks again
            refusal = ErrorCode.LEADER_NOT_AVAILABLE, None
    if refusal is None or refusal[0] == ErrorCode.TOPIC_ALREADY_EXISTS:
        return None
    return R.MetadataResponseTopic(error_code=int(refusal[0]), name=name)


async def _ask_controller_to_create(ctx: BrokerContext, name: str) -> tuple[ErrorCode, str | None] | None:
    cfg = ctx.config
    request = m.CreateTopicsRequest(
        timeout_ms=cfg.controller_socket_timeout_ms,
        topics=[
            m.CreateTopicsRequest.CreatableTopic(
                name=name, num_partitions=cfg.num_partitions, replication_factor=cfg.default_replication_factor
            )
        ],
    )
    try:
        response = await ask_controller(
            ctx.cache, cfg.broker_id, ApiKey.CREATE_TOPICS, request, timeout_ms=cfg.controller_socket_timeout_ms
        )
    except ControllerUnreachableError as exc:
        return ErrorCode.LEADER_NOT_AVAILABLE, str(exc)  # retriable: the client asks again
    code = ErrorCode(response.topics[0].error_code)
    if code == ErrorCode.NOT_CONTROLLER:  # it moved meanwhile
        code = ErrorCode.LEADER_NOT_AVAILABLE
    return None if code == ErrorCode.NONE else (code, response.topics[0].error_message)


async def handle(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply:
    if ctx.cache.cut_off(time.monotonic(), ctx.config.coord_session_timeout_ms / 1000):
        # A stale answer would name us leader of partitions the controller has moved, and a
        # client asking us again would never learn better. Dropping the connection makes
        # the client ask another broker (a connection failure is what moves it on).
        return Reply(
            None,
            close_connection=True,
            close_reason="metadata refused: cut off from coord past our session timeout, so our view "
            "of leaders is stale; ask another broker",
        )
    auto_create = body.allow_auto_topic_creation and ctx.config.auto_create_topics_enable
    cache = ctx.cache
    live = set(cache.brokers)
    topics = []
    for name in _requested(header, body, ctx):
        if name is None:
            topics.append(R.MetadataResponseTopic(error_code=int(ErrorCode.UNKNOWN_TOPIC_ID), name=None))
            continue
        if cache.topic(name) is None and auto_create:
            refused = await _auto_create(ctx, name)
            if refused is not None:
                topics.append(refused)
                continue
        topic = cache.topic(name)
        if topic is None:
            topics.append(R.MetadataResponseTopic(error_code=int(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION), name=name))
        else:
            topics.append(_topic_entry(topic, live))
    listener = session.current().listener or cache.inter_broker.listener
    brokers = [
        R.MetadataResponseBroker(node_id=b.broker_id, host=e.host, port=e.port, rack=b.rack)
        for b in sorted(cache.brokers.values(), key=lambda b: b.broker_id)
        if (e := b.endpoint(listener)) is not None
    ]
    if header.api_version >= 8 and body.include_topic_authorized_operations:
        for t in topics:
            if t.error_code == 0:
                t.topic_authorized_operations = authorized_operations(ctx.authorizer, T.TOPIC, t.name)
    cluster_ops = NOT_REQUESTED
    if 8 <= header.api_version <= 10 and body.include_cluster_authorized_operations:
        cluster_ops = authorized_operations(ctx.authorizer, T.CLUSTER)
    return Reply(
        R(
            brokers=brokers,
            cluster_id=cache.cluster_id,
            controller_id=cache.controller_id,
            topics=topics,
            cluster_authorized_operations=cluster_ops,
        )
    )
