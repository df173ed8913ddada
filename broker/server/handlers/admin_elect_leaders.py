"""ElectLeaders (API 43): preferred or unclean leader election for chosen partitions.

Only the controller elects (clients send this to the controller, as Kafka's admin clients
do); another broker answers NOT_CONTROLLER. Partitions this broker does not know answer
UNKNOWN_TOPIC_OR_PARTITION; the rest get the controller's verdict. A request for every
partition (null `topic_partitions`) lists only partitions that had a reason to be named,
leaving out ELECTION_NOT_NEEDED ones, as Kafka does. v0 has no election type (preferred)
and no top-level error code. This module must never write partition state itself.
"""

from __future__ import annotations

from typing import Any

from broker.metadata.requested_election import PREFERRED
from broker.server.handlers.common import BrokerContext, Reply
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.protocol.messages import ElectLeadersResponse as R

TYPE_VERSION = 1  # election_type and the top-level error code arrive in v1


def _result(topic: str, partitions: list[tuple[int, Any]]) -> Any:
    return R.ReplicaElectionResult(
        topic=topic,
        partition_result=[
            R.PartitionResult(
                partition_id=p, error_code=0 if v is None else int(v[0]), error_message=None if v is None else v[1]
            )
            for p, v in partitions
        ],
    )


async def handle(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply:
    election_type = body.election_type if header.api_version >= TYPE_VERSION else PREFERRED
    everything = body.topic_partitions is None
    asked = [] if everything else [(t.topic, p) for t in body.topic_partitions for p in t.partitions]
    known = {(t, p) for t, p in asked if (meta := ctx.cache.topic(t)) is not None and p in meta.assignment}
    verdicts = await ctx.controller.elect_leaders(election_type, None if everything else known)
    if isinstance(verdicts, tuple):  # not the controller: refuse everything (v0 only per partition)
        by_topic: dict[str, list[tuple[int, Any]]] = {}
        for t, p in asked:
            by_topic.setdefault(t, []).append((p, verdicts))
        return Reply(
            R(error_code=int(verdicts[0]), replica_election_results=[_result(t, ps) for t, ps in by_topic.items()])
        )
    unknown = (ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "no such topic or partition")
    if everything:
        chosen = [(tp, v) for tp, v in sorted(verdicts.items()) if v is None or v[0] != ErrorCode.ELECTION_NOT_NEEDED]
    else:
        chosen = [((t, p), verdicts.get((t, p), unknown) if (t, p) in known else unknown) for t, p in asked]
    grouped: dict[str, list[tuple[int, Any]]] = {}
    for (t, p), v in chosen:
        grouped.setdefault(t, []).append((p, v))
    return Reply(R(error_code=0, replica_election_results=[_result(t, ps) for t, ps in grouped.items()]))
