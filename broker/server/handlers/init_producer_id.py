"""InitProducerId: a fresh producer id and epoch 0 for an idempotent producer.

Any broker answers (Kafka sends it to the least loaded node). Every call gets a new id:
without transactions there is no transactional id whose epoch could be bumped, so a
producer that must start its sequences afresh simply asks again. Ids come from this
broker's block, claimed through coord (`broker.server.producer_ids`). Transactions are
not supported: a request naming a transactional id is refused.
"""

from __future__ import annotations

from typing import Any

from broker.server.handlers.common import BrokerContext, Reply
from broker.server.producer_ids import ProducerIdBlockContendedError
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.protocol.messages import InitProducerIdResponse
from coord.protocol.errors import CoordError


def _refusal(code: ErrorCode) -> Reply:
    return Reply(InitProducerIdResponse(error_code=int(code), producer_id=-1, producer_epoch=-1))


async def handle(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply:
    if body.transactional_id is not None:
        return _refusal(ErrorCode.INVALID_REQUEST)  # transactions: clients report it as fatal
    try:
        pid = await ctx.producer_ids.next_id(ctx.controller.coord, ctx.config.broker_id)
    except (CoordError, ProducerIdBlockContendedError):
        return _refusal(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    return Reply(InitProducerIdResponse(error_code=0, producer_id=pid, producer_epoch=0))
