"""InitProducerId: a fresh producer id and epoch 0 for an idempotent producer.

Any broker answers (Kafka sends it to the least loaded node). Every call gets a new id:
without transactions there is no transactional id whose epoch could be bumped, so a
producer that must start its sequences afresh simply asks again. Ids come from this
broker's block, claimed through coord (`broker.server.producer_ids`). Transactions are
not supported: a request naming a transactional id is refused.
"""

from __future__ import annotations

from client.protocol.errors import ErrorCode
from coord.protocol.errors import CoordError

from broker.server.handlers.common import BrokerContext, Reply, get
from broker.server.producer_ids import ProducerIdBlockContendedError


def _refusal(code: ErrorCode, message: str) -> Reply:
    return Reply({"error": int(code), "message": message, "producer_id": -1, "producer_epoch": -1})


async def handle(ctx: BrokerContext, body: dict) -> Reply:
    if get(body, "transactional_id", (str, type(None)), None) is not None:
        return _refusal(ErrorCode.INVALID_REQUEST, "transactions are not supported: send transactional_id nil "
                        "for an idempotent producer")
    try:
        pid = await ctx.producer_ids.next_id(ctx.controller.coord, ctx.config.broker_id)
    except (CoordError, ProducerIdBlockContendedError) as exc:
        return _refusal(ErrorCode.COORDINATOR_NOT_AVAILABLE,
                        f"broker {ctx.config.broker_id} could not claim a producer id block from coord: {exc}")
    return Reply({"error": 0, "message": None, "producer_id": pid, "producer_epoch": 0})
