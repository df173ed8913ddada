"""CreateTopics and DeleteTopics: validated here, carried out by the controller.

CreateTopics takes -1 partitions or replication factor as the broker's defaults (KIP-464),
checks without creating under validate_only, and from v5 answers each created topic's
partition count, replication factor and effective configs. A manual replica assignment
(`assignments`) is checked as Kafka checks it (`broker.metadata.replica_assignment`) and
handed to the controller in place of its own placement. DeleteTopics deletes by name.
"""

from __future__ import annotations

from typing import Any

from broker.metadata.replica_assignment import check_topic_assignment
from broker.server.handlers.common import BrokerContext, Reply
from broker.server.handlers.describe_configs import topic_config_entries
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.protocol.messages import CreateTopicsResponse, DeleteTopicsResponse

CR = CreateTopicsResponse


async def _create_one(
    ctx: BrokerContext, header: RequestHeader, topic: Any, validate_only: bool, duplicate: bool
) -> Any:
    out = CR.CreatableTopicResult(name=topic.name, error_code=0, error_message=None, configs=None)
    if duplicate:
        out.error_code, out.error_message = (
            int(ErrorCode.INVALID_REQUEST),
            f"topic {topic.name!r} appears twice in one request",
        )
        return out
    assignment = None
    if topic.assignments:
        checked = check_topic_assignment(
            topic.num_partitions,
            topic.replication_factor,
            ((a.partition_index, a.broker_ids) for a in topic.assignments),
            set(ctx.cache.live_broker_ids()),
        )
        if isinstance(checked, tuple):
            out.error_code, out.error_message = int(checked[0]), checked[1]
            return out
        assignment = checked
    configs = {c.name: c.value for c in topic.configs}
    if any(v is None for v in configs.values()):
        out.error_code, out.error_message = int(ErrorCode.INVALID_CONFIG), "topic config values must not be null"
        return out
    if assignment is not None:
        partitions, factor = len(assignment), len(assignment[0])
    else:
        partitions = ctx.config.num_partitions if topic.num_partitions == -1 else topic.num_partitions
        factor = ctx.config.default_replication_factor if topic.replication_factor == -1 else topic.replication_factor
    refusal = await ctx.controller.create_topic(
        topic.name, partitions, factor, configs, validate_only=validate_only, assignment=assignment
    )
    if refusal is not None:
        out.error_code, out.error_message = int(refusal[0]), refusal[1]
        return out
    out.num_partitions, out.replication_factor = partitions, factor
    out.configs = [
        CR.CreatableTopicConfigs(
            name=e.name, value=e.value, read_only=e.read_only, config_source=e.config_source, is_sensitive=False
        )
        for e in topic_config_entries(ctx.config, configs, ctx.dynamic_config)
    ]
    return out


async def create_topics(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply:
    names = [t.name for t in body.topics]
    results = [await _create_one(ctx, header, t, body.validate_only, names.count(t.name) > 1) for t in body.topics]
    return Reply(CR(topics=results))


async def delete_topics(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply:
    results = []
    for name in body.topic_names:
        refusal: tuple[ErrorCode, str] | None
        if not ctx.config.delete_topic_enable:
            refusal = (
                ErrorCode.TOPIC_DELETION_DISABLED,
                "topic deletion is disabled on this broker (delete.topic.enable)",
            )
        else:
            refusal = await ctx.controller.delete_topic(name)
        results.append(
            DeleteTopicsResponse.DeletableTopicResult(
                name=name,
                error_code=0 if refusal is None else int(refusal[0]),
                error_message=None if refusal is None else refusal[1],
            )
        )
    return Reply(DeleteTopicsResponse(responses=results))
