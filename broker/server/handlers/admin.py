"""CreateTopics and DeleteTopics: validated here, carried out by the controller."""

from __future__ import annotations

from client.protocol.errors import ErrorCode

from broker.server.handlers.common import BrokerContext, Reply, get, get_entries


def _result(name: object, refusal: tuple[ErrorCode, str] | None) -> dict:
    if refusal is None:
        return {"name": name, "error": 0, "message": None}
    return {"name": name, "error": int(refusal[0]), "message": refusal[1]}


async def create_topics(ctx: BrokerContext, body: dict) -> Reply:
    entries = get_entries(body, "topics")
    validate_only = get(body, "validate_only", bool, False)
    names = [e.get("name") for e in entries]
    results = []
    for entry, name in zip(entries, names):
        if names.count(name) > 1:
            results.append(_result(name, (ErrorCode.INVALID_REQUEST, f"topic {name!r} appears twice in one request")))
            continue
        refusal = await ctx.controller.create_topic(
            name,
            entry.get("num_partitions", ctx.config.num_partitions),
            entry.get("replication_factor", ctx.config.default_replication_factor),
            entry.get("configs") or {},
            validate_only=validate_only,
        )
        results.append(_result(name, refusal))
    return Reply({"topics": results})


async def delete_topics(ctx: BrokerContext, body: dict) -> Reply:
    names = get(body, "topics", list)
    results = []
    for name in names:
        if not ctx.config.delete_topic_enable:
            refusal = (ErrorCode.TOPIC_DELETION_DISABLED, "topic deletion is disabled on this broker (delete.topic.enable)")
        else:
            refusal = await ctx.controller.delete_topic(name)
        results.append(_result(name, refusal))
    return Reply({"topics": results})
