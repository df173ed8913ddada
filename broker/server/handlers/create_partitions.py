"""CreatePartitions: grow topics to a larger partition count, carried out by the controller.

The controller assigns the new partitions' replicas itself unless the request names them
(`assignments`): those are checked as Kafka checks them (`broker.metadata.replica_assignment`)
and handed to the controller. validate_only checks without changing anything. This module
must never write metadata itself.
"""

from __future__ import annotations

from typing import Any

from broker.metadata.replica_assignment import check_added_assignment
from broker.server.handlers.common import BrokerContext, Reply
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.protocol.messages import CreatePartitionsResponse as R


async def _grow(ctx: BrokerContext, topic: Any, validate_only: bool, duplicate: bool) -> Any:
    out = R.CreatePartitionsTopicResult(name=topic.name, error_code=0, error_message=None)
    if duplicate:
        refusal: tuple[ErrorCode, str] | None = (
            ErrorCode.INVALID_REQUEST,
            f"topic {topic.name!r} appears twice in one request",
        )
    elif topic.assignments is not None and (meta := ctx.cache.topic(topic.name)) is not None:
        checked = check_added_assignment(
            len(meta.assignment),
            topic.count,
            len(meta.assignment[min(meta.assignment)]),
            [a.broker_ids for a in topic.assignments],
            set(ctx.cache.live_broker_ids()),
        )
        if isinstance(checked, tuple):
            refusal = checked
        else:
            refusal = await ctx.controller.create_partitions(
                topic.name, topic.count, validate_only=validate_only, assignment=checked
            )
    else:
        refusal = await ctx.controller.create_partitions(topic.name, topic.count, validate_only=validate_only)
    if refusal is not None:
        out.error_code, out.error_message = int(refusal[0]), refusal[1]
    return out


async def handle(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply:
    names = [t.name for t in body.topics]
    return Reply(R(results=[await _grow(ctx, t, body.validate_only, names.count(t.name) > 1) for t in body.topics]))
