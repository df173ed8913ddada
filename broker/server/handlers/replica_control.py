"""The controller's requests to a broker (LeaderAndIsr, StopReplica, UpdateMetadata) and
the broker's ControlledShutdown request to the controller, and the follower's
OffsetsForLeaderEpoch request to a leader.

Each carries the sender's controller epoch and the addressee's broker epoch (the czxid
of its /brokers/ids node). A request from an older controller epoch than one this
broker already obeyed is refused with STALE_CONTROLLER_EPOCH (a deposed controller
that has not noticed yet must not be obeyed); one addressed to another registration of
this broker (an earlier run, or before a session expiry) with STALE_BROKER_EPOCH.
"""

from __future__ import annotations

from typing import Any

from client.protocol.errors import ErrorCode

from broker.metadata.znodes import PartitionState
from broker.server.handlers.common import BrokerContext, MalformedRequest, Reply, get, get_entries
from broker.server.replica_manager import PartitionRefused

_INT_FIELDS = ("partition", "leader", "leader_epoch", "zk_version", "controller_epoch")


def _check(ctx: BrokerContext, body: dict) -> Reply | None:
    """Refuse a zombie controller or an order for another run of this broker; else
    remember the controller and its epoch."""
    controller_epoch = get(body, "controller_epoch", int)
    controller_id = get(body, "controller_id", int)
    broker_epoch = get(body, "broker_epoch", int)
    replicas = ctx.replicas
    if controller_epoch < replicas.controller_epoch:
        return Reply({"error": int(ErrorCode.STALE_CONTROLLER_EPOCH),
                      "message": f"controller epoch {controller_epoch} (broker {controller_id}) is older than "
                                 f"{replicas.controller_epoch}, which broker {ctx.config.broker_id} already obeys"})
    if broker_epoch != replicas.broker_epoch:
        return Reply({"error": int(ErrorCode.STALE_BROKER_EPOCH),
                      "message": f"addressed to broker epoch {broker_epoch}, but broker {ctx.config.broker_id}'s "
                                 f"current registration is {replicas.broker_epoch}"})
    replicas.controller_epoch = controller_epoch
    ctx.cache.controller_id = controller_id
    return None


def _partition_states(body: dict) -> list[dict[str, Any]]:
    entries = get_entries(body)
    for e in entries:
        if not isinstance(e.get("topic"), str) or any(type(e.get(k)) is not int for k in _INT_FIELDS):
            raise MalformedRequest(f"partition entries need a string topic and integers {', '.join(_INT_FIELDS)}")
        for key in ("isr", "replicas"):
            if not isinstance(e.get(key), list) or not all(type(b) is int for b in e[key]):
                raise MalformedRequest(f"{key} must be a list of broker ids")
    return entries


async def leader_and_isr(ctx: BrokerContext, body: dict) -> Reply:
    refusal = _check(ctx, body)
    if refusal is not None:
        return refusal
    entries = _partition_states(body)
    configs = get(body, "configs", dict, {})
    results = ctx.replicas.leader_and_isr(entries, configs, body["controller_epoch"])
    return Reply({"error": 0, "partitions": results})


async def stop_replica(ctx: BrokerContext, body: dict) -> Reply:
    refusal = _check(ctx, body)
    if refusal is not None:
        return refusal
    delete = get(body, "delete", bool, False)
    results = []
    for e in get_entries(body):
        topic, partition = e.get("topic"), e.get("partition")
        if not isinstance(topic, str) or type(partition) is not int:
            raise MalformedRequest("partition entries need a string topic and an integer partition")
        await ctx.replicas.stop_replica(topic, partition, delete=delete)
        results.append({"topic": topic, "partition": partition, "error": 0})
    return Reply({"error": 0, "partitions": results})


async def update_metadata(ctx: BrokerContext, body: dict) -> Reply:
    refusal = _check(ctx, body)
    if refusal is not None:
        return refusal
    # Partition states only: each carries (leader epoch, zkVersion), so a late request can
    # never overwrite a newer state. The broker list comes from this broker's own watch on
    # /brokers/ids, which no stale request can roll back.
    for e in _partition_states(body):
        state = PartitionState(e["leader"], e["leader_epoch"], tuple(e["isr"]), e["controller_epoch"],
                               e["zk_version"])
        ctx.cache.offer_state(e["topic"], e["partition"], e["replicas"], state)
    return Reply({"error": 0})


async def controlled_shutdown(ctx: BrokerContext, body: dict) -> Reply:
    """Broker -> controller: move my leadership away, I am about to stop."""
    refusal, remaining = await ctx.controller.controlled_shutdown(get(body, "broker_id", int),
                                                                  get(body, "broker_epoch", int))
    if refusal is not None:
        return Reply({"error": int(refusal[0]), "message": refusal[1], "remaining_partitions": []})
    return Reply({"error": 0, "remaining_partitions": [{"topic": t, "partition": p} for t, p in remaining]})


async def offsets_for_leader_epoch(ctx: BrokerContext, body: dict) -> Reply:
    """Follower -> leader (KIP-101/279): where does `leader_epoch` end in your log? The
    answer is the largest epoch <= it that the leader knows and that epoch's end offset,
    with the leader's own current epoch so a stale answer is recognised."""
    replica_id = get(body, "replica_id", int)
    results = []
    for e in get_entries(body):
        topic, partition = e.get("topic"), e.get("partition")
        current, epoch = e.get("current_leader_epoch"), e.get("leader_epoch")
        if type(current) is not int or type(epoch) is not int:
            raise MalformedRequest("current_leader_epoch and leader_epoch must be integers")
        try:
            part = ctx.replicas.hosted(topic, partition)
        except PartitionRefused as refused:
            results.append({"topic": topic, "partition": partition, "error": int(refused.code),
                            "message": refused.message, "current_leader_epoch": -1, "leader_epoch": -1,
                            "end_offset": -1})
            continue
        answer = part.epoch_query(replica_id, current, epoch)
        results.append({"topic": topic, "partition": partition, "error": int(answer.error), "message": None,
                        "current_leader_epoch": answer.leader_epoch, "leader_epoch": answer.epoch,
                        "end_offset": answer.end_offset})
    return Reply({"error": 0, "partitions": results})
