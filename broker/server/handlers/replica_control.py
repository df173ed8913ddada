"""The controller's requests to a broker (LeaderAndIsr, StopReplica, UpdateMetadata), the
broker's ControlledShutdown request to the controller, and the follower's
OffsetForLeaderEpoch request to a leader, in Kafka's ZooKeeper-era schemas.

Controller requests carry the sender's id and controller epoch and the addressee's broker
epoch (the czxid of its /brokers/ids node). As Kafka on ZooKeeper does, a request from an
older controller epoch than one this broker already obeyed is refused with
STALE_CONTROLLER_EPOCH (a deposed controller that has not noticed yet must not be obeyed)
and one addressed to an older registration of this broker (an earlier run, or before a
session expiry) with STALE_BROKER_EPOCH; a newer broker epoch is taken (the controller
can see our new registration before our own registration call returns). Unlike Kafka we
also refuse an epoch of -1 (Kafka's "sent by a pre-2.2 controller"), and a sender that is
not a registered broker of this cluster with CLUSTER_AUTHORIZATION_FAILED, which is what
Kafka answers when its authorizer denies these APIs. A follower (OffsetForLeaderEpoch or
Fetch with a replica id) must be a registered broker, and of this cluster when it says
which (Fetch's cluster id). On a broker with several listeners, all of these requests
(ControlledShutdown too) are served only on the inter-broker listener: from any other, they
are refused with CLUSTER_AUTHORIZATION_FAILED before anything else is looked at. Every
refusal changes nothing and is logged once.
It must never decide leadership (the replica manager and the replication core do).
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from broker.metadata import controller_requests as requests
from broker.metadata import znodes as Z
from broker.metadata.znodes import PartitionState
from broker.refusal import ErrorReply
from broker.security import session
from broker.server.handlers.common import BrokerContext, Reply
from broker.server.replica_manager import PartitionRefusedError
from client.protocol import messages as m
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from coord.protocol.errors import NoNodeError

log = logging.getLogger(__name__)


class _LogOnce:
    """Log each distinct refusal once: a zombie controller retrying, or a stray client,
    would otherwise fill the log (bounded: forgets everything past `limit` keys)."""

    def __init__(self, limit: int = 1000) -> None:
        self.seen: set[tuple[object, ...]] = set()
        self.limit = limit

    def __call__(self, key: tuple[object, ...], refusal: ErrorReply) -> None:
        if key in self.seen:
            return
        if len(self.seen) >= self.limit:
            self.seen.clear()
        self.seen.add(key)
        log.warning("refused %s: %s (%s)", key[0], refusal[1], refusal[0].name)


_logs: weakref.WeakKeyDictionary[object, _LogOnce] = weakref.WeakKeyDictionary()


def _log_once(ctx: BrokerContext, key: tuple[object, ...], refusal: ErrorReply) -> None:
    """Log a refusal once per broker (keyed by its replica manager: several brokers can
    share a process in tests)."""
    _logs.setdefault(ctx.replicas, _LogOnce())(key, refusal)


def _listener_refusal(ctx: BrokerContext, api: str) -> ErrorReply | None:
    """CLUSTER_AUTHORIZATION_FAILED for an inter-broker request from outside the inter-broker listener."""
    caller = session.current()
    if caller.inter_broker:
        return None
    return (
        ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
        f"{api} arrived on listener {caller.listener} from {caller.host or 'a client'}; this broker serves "
        f"inter-broker requests on listener {ctx.cache.inter_broker.listener} only",
    )


def _check_controller(
    ctx: BrokerContext, api: str, controller_id: int, controller_epoch: int, broker_epoch: int
) -> ErrorReply | None:
    """Refuse a zombie controller, an order for another run of this broker, or a sender
    that is no registered broker (in that order: a deposed controller whose registration
    has expired is told its epoch is stale); else remember the controller and its epoch."""
    replicas = ctx.replicas
    refusal: ErrorReply | None = _listener_refusal(ctx, api)  # first: nothing else is looked at
    if refusal is not None:
        pass
    elif controller_epoch < replicas.controller_epoch:
        refusal = (
            ErrorCode.STALE_CONTROLLER_EPOCH,
            f"controller epoch {controller_epoch} (broker {controller_id}) is older than "
            f"{replicas.controller_epoch}, which broker {ctx.config.broker_id} already obeys",
        )
    elif broker_epoch < replicas.broker_epoch:
        refusal = (
            ErrorCode.STALE_BROKER_EPOCH,
            f"addressed to broker epoch {broker_epoch}, but broker {ctx.config.broker_id}'s "
            f"current registration is {replicas.broker_epoch}",
        )
    elif controller_id not in ctx.cache.brokers:
        refusal = (
            ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
            f"{api} from broker {controller_id}, which is not a registered broker of this cluster",
        )
    if refusal is not None:
        _log_once(ctx, (api, refusal[0], controller_id, controller_epoch, broker_epoch), refusal)
        return refusal
    replicas.controller_epoch = controller_epoch
    ctx.cache.controller_id = controller_id
    return None


def follower_refusal(ctx: BrokerContext, api: str, replica_id: int, cluster_id: str | None = None) -> ErrorReply | None:
    """Why a request from follower `replica_id` (>= 0) must be refused, or None: it is no
    registered broker, or it belongs to another cluster (when it says which)."""
    refusal: ErrorReply | None = _listener_refusal(ctx, api)  # first: nothing else is looked at
    if refusal is not None:
        pass
    elif cluster_id is not None and cluster_id != ctx.cache.cluster_id:
        refusal = (
            ErrorCode.INCONSISTENT_CLUSTER_ID,
            f"{api} from replica {replica_id} of cluster {cluster_id!r}; this is cluster {ctx.cache.cluster_id!r}",
        )
    elif replica_id not in ctx.cache.brokers:
        refusal = (
            ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
            f"{api} from replica {replica_id}, which is not a registered broker of this cluster",
        )
    if refusal is not None:
        _log_once(ctx, (api, refusal[0], replica_id, cluster_id), refusal)
    return refusal


# -- LeaderAndIsr ------------------------------------------------------------------------------


async def _topic_configs(ctx: BrokerContext, topics: set[str]) -> dict[str, dict[str, str] | ErrorCode]:
    """Each topic's configs read from coord (Kafka's schema does not carry them; Kafka too
    reads them when it creates a log), or the error for its partitions."""
    names = sorted(topics)
    answers = await asyncio.gather(
        *(ctx.controller.coord.get(Z.topic_config_path(t)) for t in names), return_exceptions=True
    )
    out: dict[str, dict[str, str] | ErrorCode] = {}
    for name, answer in zip(names, answers, strict=True):
        if isinstance(answer, NoNodeError):
            out[name] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION  # deleted since the order was sent
        elif isinstance(answer, Exception):
            log.warning(
                "cannot read the configs of topic %s from coord (%s); its new replicas wait for "
                "the controller's next order",
                name,
                answer,
            )
            out[name] = ErrorCode.UNKNOWN_SERVER_ERROR
        elif isinstance(answer, BaseException):
            raise answer
        else:
            out[name] = Z.decode_topic_config(answer[0])
    return out


async def leader_and_isr(ctx: BrokerContext, header: RequestHeader, body: m.LeaderAndIsrRequest) -> Reply:
    version = header.api_version
    states = list(requests.leader_and_isr_states(body, version))
    refusal = _check_controller(ctx, "LeaderAndIsr", body.controller_id, body.controller_epoch, body.broker_epoch)
    if refusal is not None:
        return Reply(_leader_and_isr_response(body, version, refusal[0], {}))
    me = ctx.config.broker_id
    opening = {t for t, st in states if me in st.replicas and (t, st.partition_index) not in ctx.replicas.partitions}
    configs = await _topic_configs(ctx, opening) if opening else {}
    errors: dict[tuple[str, int], ErrorCode] = {}
    entries = []
    for topic, st in states:
        failed = configs.get(topic)
        if isinstance(failed, ErrorCode) and (topic, st.partition_index) not in ctx.replicas.partitions:
            errors[(topic, st.partition_index)] = failed
            continue
        entries.append(
            {
                "topic": topic,
                "partition": st.partition_index,
                "leader": st.leader,
                "leader_epoch": st.leader_epoch,
                "isr": list(st.isr),
                "replicas": list(st.replicas),
                "zk_version": st.partition_epoch,
            }
        )
    good = {t: c for t, c in configs.items() if not isinstance(c, ErrorCode)}
    for result in ctx.replicas.leader_and_isr(entries, good, body.controller_epoch):
        errors[(result["topic"], result["partition"])] = ErrorCode(result["error"])
    return Reply(_leader_and_isr_response(body, version, ErrorCode.NONE, errors))


def _leader_and_isr_response(
    body: m.LeaderAndIsrRequest, version: int, code: ErrorCode, errors: dict[tuple[str, int], ErrorCode]
) -> m.LeaderAndIsrResponse:
    """One error per partition of the request (`code` where `errors` has none); v5+ groups
    them by the request's topic ids, older versions name the topic."""
    E = m.LeaderAndIsrResponse.LeaderAndIsrPartitionError

    def error(topic: str, p: int) -> m.LeaderAndIsrResponse.LeaderAndIsrPartitionError:
        return E(topic_name=topic, partition_index=p, error_code=int(errors.get((topic, p), code)))

    if version < 5:
        return m.LeaderAndIsrResponse(
            error_code=int(code),
            partition_errors=[error(t, st.partition_index) for t, st in requests.leader_and_isr_states(body, version)],
        )
    return m.LeaderAndIsrResponse(
        error_code=int(code),
        topics=[
            m.LeaderAndIsrResponse.LeaderAndIsrTopicError(
                topic_id=t.topic_id,
                partition_errors=[error(t.topic_name, st.partition_index) for st in t.partition_states],
            )
            for t in body.topic_states
        ],
    )


# -- StopReplica, UpdateMetadata ---------------------------------------------------------------


async def stop_replica(ctx: BrokerContext, header: RequestHeader, body: m.StopReplicaRequest) -> Reply:
    orders = requests.stop_replica_orders(body, header.api_version)
    refusal = _check_controller(ctx, "StopReplica", body.controller_id, body.controller_epoch, body.broker_epoch)
    E = m.StopReplicaResponse.StopReplicaPartitionError
    if refusal is not None:
        return Reply(
            m.StopReplicaResponse(
                error_code=int(refusal[0]),
                partition_errors=[
                    E(topic_name=o.topic, partition_index=o.partition, error_code=int(refusal[0])) for o in orders
                ],
            )
        )
    results = []
    for o in orders:
        part = ctx.replicas.partitions.get((o.topic, o.partition))
        # Kafka's rule: an order from an older leader epoch than the replica's is fenced;
        # "no epoch" (before v3) and "topic being deleted" always apply.
        if (
            part is not None
            and o.leader_epoch not in (requests.NO_EPOCH, requests.EPOCH_DURING_DELETE)
            and o.leader_epoch < part.leader_epoch
        ):
            code = ErrorCode.FENCED_LEADER_EPOCH
        else:
            await ctx.replicas.stop_replica(o.topic, o.partition, delete=o.delete)
            code = ErrorCode.NONE
        results.append(E(topic_name=o.topic, partition_index=o.partition, error_code=int(code)))
    return Reply(m.StopReplicaResponse(error_code=0, partition_errors=results))


async def update_metadata(ctx: BrokerContext, header: RequestHeader, body: m.UpdateMetadataRequest) -> Reply:
    refusal = _check_controller(ctx, "UpdateMetadata", body.controller_id, body.controller_epoch, body.broker_epoch)
    if refusal is not None:
        return Reply(m.UpdateMetadataResponse(error_code=int(refusal[0])))
    # Partition states only: each carries (leader epoch, zkVersion), so a late request can
    # never overwrite a newer state. The broker list comes from this broker's own watch on
    # /brokers/ids, which no stale request can roll back.
    for topic, st in requests.update_metadata_states(body, header.api_version):
        state = PartitionState(st.leader, st.leader_epoch, tuple(st.isr), st.controller_epoch, st.zk_version)
        ctx.cache.offer_state(topic, st.partition_index, list(st.replicas), state)
    return Reply(m.UpdateMetadataResponse(error_code=0))


# -- broker -> controller, follower -> leader ----------------------------------------------------


async def controlled_shutdown(ctx: BrokerContext, header: RequestHeader, body: m.ControlledShutdownRequest) -> Reply:
    """Broker -> controller: move my leadership away, I am about to stop. Before v2 the
    request has no broker epoch, and is refused as stale (Kafka would take it)."""
    refused = _listener_refusal(ctx, "ControlledShutdown")
    if refused is not None:
        _log_once(ctx, ("ControlledShutdown", refused[0], body.broker_id, session.current().listener), refused)
        return Reply(m.ControlledShutdownResponse(error_code=int(refused[0])))
    refusal, remaining = await ctx.controller.controlled_shutdown(body.broker_id, body.broker_epoch)
    if refusal is not None:
        _log_once(ctx, ("ControlledShutdown", refusal[0], body.broker_id, body.broker_epoch), refusal)
        return Reply(m.ControlledShutdownResponse(error_code=int(refusal[0])))
    return Reply(
        m.ControlledShutdownResponse(
            error_code=0,
            remaining_partitions=[
                m.ControlledShutdownResponse.RemainingPartition(topic_name=t, partition_index=p) for t, p in remaining
            ],
        )
    )


async def offsets_for_leader_epoch(
    ctx: BrokerContext, header: RequestHeader, body: m.OffsetForLeaderEpochRequest
) -> Reply:
    """Follower -> leader (KIP-101/279), or a consumer validating its position (KIP-320):
    where does `leader_epoch` end in your log? The answer is the largest epoch <= it that
    the leader knows and that epoch's end offset. A current leader epoch other than the
    leader's is fenced (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH); -1 (the asker does not
    know it, or a version before 2) skips that check, as in Kafka."""
    R = m.OffsetForLeaderEpochResponse
    replica_id = body.replica_id
    refusal = follower_refusal(ctx, "OffsetForLeaderEpoch", replica_id) if replica_id >= 0 else None
    topics = []
    for t in body.topics:
        answers = []
        for p in t.partitions:
            if refusal is not None:
                answers.append(R.EpochEndOffset(error_code=int(refusal[0]), partition=p.partition))
                continue
            try:
                part = ctx.replicas.hosted(t.topic, p.partition)
            except PartitionRefusedError as refused:
                answers.append(R.EpochEndOffset(error_code=int(refused.code), partition=p.partition))
                continue
            current = p.current_leader_epoch if p.current_leader_epoch >= 0 else part.leader_epoch
            answer = part.epoch_query(replica_id, current, p.leader_epoch)
            answers.append(
                R.EpochEndOffset(
                    error_code=int(answer.error),
                    partition=p.partition,
                    leader_epoch=answer.epoch,
                    end_offset=answer.end_offset,
                )
            )
        topics.append(R.OffsetForLeaderTopicResult(topic=t.topic, partitions=answers))
    return Reply(R(topics=topics))
