"""Metadata: brokers, cluster id, controller, and every requested topic's partitions.

Answered from the metadata cache without touching coord, except when the request asks
to auto-create a missing topic and the broker allows it (auto.create.topics.enable).
"""

from __future__ import annotations

import time

from client.protocol.errors import ErrorCode

from broker.metadata.cache import TopicMetadata
from broker.server.handlers.common import BrokerContext, MalformedRequest, Reply, get


def _topic_entry(topic: TopicMetadata, live: set[int]) -> dict:
    partitions = []
    for p, replicas in sorted(topic.assignment.items()):
        state = topic.states.get(p)
        leader = state.leader if state is not None and state.leader in live else -1
        partitions.append({
            "partition": p,
            "error": int(ErrorCode.NONE if leader >= 0 else ErrorCode.LEADER_NOT_AVAILABLE),
            "leader": leader,
            "leader_epoch": state.leader_epoch if state is not None else -1,
            "replicas": list(replicas),
            "isr": list(state.isr) if state is not None else [],
            "offline_replicas": [r for r in replicas if r not in live],
        })
    return {"name": topic.name, "error": 0, "message": None, "partitions": partitions}


async def handle(ctx: BrokerContext, body: dict) -> Reply:
    if ctx.cache.cut_off(time.monotonic(), ctx.config.coord_session_timeout_ms / 1000):
        # A stale answer would name us leader of partitions the controller has moved, and a
        # client asking us again would never learn better. Dropping the connection makes
        # the client ask another broker (a connection failure is what moves it on).
        return Reply({}, close_connection=True,
                     close_reason="metadata refused: cut off from coord past our session timeout, so our view "
                                  "of leaders is stale; ask another broker")
    names = get(body, "topics", (list, type(None)), None)
    if names is not None and not all(isinstance(n, str) for n in names):
        raise MalformedRequest("topics must be a list of strings or nil")
    auto_create = get(body, "allow_auto_create", bool, False) and ctx.config.auto_create_topics_enable
    cache = ctx.cache
    if names is None:
        names = sorted(cache.topics)
    live = set(cache.brokers)
    topics = []
    for name in names:
        if cache.topic(name) is None and auto_create:
            cfg = ctx.config
            refusal = await ctx.controller.create_topic(name, cfg.num_partitions, cfg.default_replication_factor, {})
            if refusal is not None and refusal[0] != ErrorCode.TOPIC_ALREADY_EXISTS:
                topics.append({"name": name, "error": int(refusal[0]), "message": refusal[1], "partitions": []})
                continue
        topic = cache.topic(name)
        if topic is None:
            topics.append({"name": name, "error": int(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
                           "message": f"topic {name!r} does not exist", "partitions": []})
        else:
            topics.append(_topic_entry(topic, live))
    brokers = [{"id": b.broker_id, "host": b.host, "port": b.port, "rack": b.rack}
               for b in sorted(cache.brokers.values(), key=lambda b: b.broker_id)]
    return Reply({"cluster_id": cache.cluster_id, "controller_id": cache.controller_id,
                  "brokers": brokers, "topics": topics})
