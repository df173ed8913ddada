"""Group membership APIs on Kafka's wire: FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
LeaveGroup, ListGroups, DescribeGroups, DeleteGroups.

Each handler reads the typed request, turns it into the group core's event, lets the
broker's `GroupManager` route it to the group's coordinator shell, and builds the typed
response for the version the client speaks (the codec drops fields that version lacks;
strings that only become nullable in later versions are sent as "" before then). A
broker that does not coordinate the group answers NOT_COORDINATOR; one still loading the
group's partition, COORDINATOR_LOAD_IN_PROGRESS; an empty group id, INVALID_GROUP_ID, as
Kafka does. DeleteGroups deletes Empty groups only (NON_EMPTY_GROUP otherwise; a group
never seen, GROUP_ID_NOT_FOUND). Handlers must never change group state themselves: the core does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from broker.groups.messages import (
    DeleteGroup,
    DeleteGroupResult,
    DeleteOffsets,
    DeleteOffsetsResult,
    DescribeGroup,
    GroupDescription,
    GroupState,
    Heartbeat,
    HeartbeatResult,
    JoinGroup,
    JoinResult,
    LeaveGroup,
    LeaveResult,
    MemberIdentity,
    Response,
    SyncGroup,
    SyncResult,
)
from broker.groups.messages import ErrorCode as GroupError
from broker.groups.shell import CoordinatorRefusedError
from broker.security import session
from broker.security.acl import ResourceType
from broker.security.authorized_ops import authorized_operations
from broker.server.handlers.common import BrokerContext, Reply
from client.protocol import messages as m
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader

GROUP_KEY_TYPE = 0
NO_NODE = -1
LEAVE_BATCH_VERSION = 3  # LeaveGroup v3+ names a batch of members (KIP-345)
JOIN_KNOWN_MEMBER_VERSION = 4  # JoinGroup v4+ must first be told MEMBER_ID_REQUIRED (KIP-394)
NULLABLE_PROTOCOL_VERSION = 7  # JoinGroup v7+ may send a null protocol name
TYPES_FILTER_VERSION = 5  # ListGroups v5: types_filter and group_type
CLASSIC = "classic"  # the group type of every group here (no KIP-848 "consumer" groups)
STATES_FILTER_VERSION = 4


async def ask(ctx: BrokerContext, group_id: str, make: Callable[[int], Any]) -> Response | ErrorCode:
    """Route one request to the group's coordinator: the core's answer, or why it was refused."""
    if ctx.groups is None:
        return ErrorCode.COORDINATOR_NOT_AVAILABLE
    try:
        return await ctx.groups.request(group_id, make)
    except CoordinatorRefusedError as exc:
        return ErrorCode(int(exc.code))


def client_id_of(header: RequestHeader) -> str:
    return header.client_id or ""


# ---- FindCoordinator ----------------------------------------------------------------


async def find_coordinator(ctx: BrokerContext, header: RequestHeader, body: m.FindCoordinatorRequest) -> Reply:
    def refuse(code: ErrorCode, message: str) -> Reply:
        return Reply(
            m.FindCoordinatorResponse(
                error_code=int(code), error_message=message, node_id=NO_NODE, host="", port=NO_NODE
            )
        )

    if body.key_type != GROUP_KEY_TYPE:
        return refuse(
            ErrorCode.INVALID_REQUEST, "only group coordinators (key type 0) exist here: pybroker has no transactions"
        )
    if not body.key:
        return refuse(ErrorCode.INVALID_GROUP_ID, "the group id must not be empty")
    if ctx.groups is None:
        return refuse(ErrorCode.COORDINATOR_NOT_AVAILABLE, "groups are not running on this broker")
    try:
        broker = await ctx.groups.find_coordinator(body.key)
    except CoordinatorRefusedError as exc:
        return refuse(ErrorCode(int(exc.code)), exc.message)
    endpoint = broker.endpoint(session.current().listener or ctx.cache.inter_broker.listener)
    if endpoint is None:
        return refuse(
            ErrorCode.COORDINATOR_NOT_AVAILABLE,
            f"the coordinator, broker {broker.broker_id}, has no endpoint on the listener this request came in on",
        )
    return Reply(
        m.FindCoordinatorResponse(
            error_code=0, error_message=None, node_id=broker.broker_id, host=endpoint.host, port=endpoint.port
        )
    )


# ---- JoinGroup, SyncGroup, Heartbeat, LeaveGroup --------------------------------------


async def join_group(ctx: BrokerContext, header: RequestHeader, body: m.JoinGroupRequest) -> Reply:
    version = header.api_version
    nullable = version >= NULLABLE_PROTOCOL_VERSION

    def response(code: int, member_id: str, r: JoinResult | None = None) -> Reply:
        if r is None:
            return Reply(
                m.JoinGroupResponse(
                    error_code=code,
                    generation_id=-1,
                    member_id=member_id,
                    protocol_name=None if nullable else "",
                    leader="",
                )
            )
        return Reply(
            m.JoinGroupResponse(
                error_code=code,
                generation_id=r.generation_id,
                protocol_type=r.protocol_type,
                protocol_name=r.protocol_name if nullable or r.protocol_name is not None else "",
                leader=r.leader_id,
                member_id=r.member_id,
                members=[
                    m.JoinGroupResponse.JoinGroupResponseMember(
                        member_id=x.member_id, group_instance_id=x.group_instance_id, metadata=x.metadata
                    )
                    for x in r.members
                ],
            )
        )

    if not body.group_id:
        return response(int(ErrorCode.INVALID_GROUP_ID), body.member_id)
    session = body.session_timeout_ms
    rebalance = body.rebalance_timeout_ms if body.rebalance_timeout_ms >= 0 else session  # v0: none
    protocols = tuple((p.name, bytes(p.metadata)) for p in body.protocols)

    def event(rid: int) -> JoinGroup:
        return JoinGroup(
            rid,
            body.member_id,
            body.protocol_type,
            protocols,
            session,
            rebalance,
            body.group_instance_id,
            client_id_of(header),
            version >= JOIN_KNOWN_MEMBER_VERSION,
        )

    r = await ask(ctx, body.group_id, event)
    if isinstance(r, ErrorCode):
        return response(int(r), body.member_id)
    assert isinstance(r, JoinResult)
    if r.error:
        return response(int(r.error), r.member_id)
    return response(0, r.member_id, r)


async def sync_group(ctx: BrokerContext, header: RequestHeader, body: m.SyncGroupRequest) -> Reply:
    def refuse(code: int) -> Reply:
        return Reply(m.SyncGroupResponse(error_code=code, assignment=b""))

    if not body.group_id:
        return refuse(int(ErrorCode.INVALID_GROUP_ID))
    assignments = tuple((a.member_id, bytes(a.assignment)) for a in body.assignments)
    r = await ask(
        ctx,
        body.group_id,
        lambda rid: SyncGroup(
            rid,
            body.member_id,
            body.generation_id,
            assignments,
            body.group_instance_id,
            body.protocol_type,
            body.protocol_name,
        ),
    )
    if isinstance(r, ErrorCode):
        return refuse(int(r))
    assert isinstance(r, SyncResult)
    if r.error:
        return refuse(int(r.error))
    return Reply(
        m.SyncGroupResponse(
            error_code=0, protocol_type=r.protocol_type, protocol_name=r.protocol_name, assignment=r.assignment
        )
    )


async def heartbeat(ctx: BrokerContext, header: RequestHeader, body: m.HeartbeatRequest) -> Reply:
    if not body.group_id:
        return Reply(m.HeartbeatResponse(error_code=int(ErrorCode.INVALID_GROUP_ID)))
    r = await ask(
        ctx, body.group_id, lambda rid: Heartbeat(rid, body.member_id, body.generation_id, body.group_instance_id)
    )
    if isinstance(r, ErrorCode):
        return Reply(m.HeartbeatResponse(error_code=int(r)))
    assert isinstance(r, HeartbeatResult)
    return Reply(m.HeartbeatResponse(error_code=int(r.error)))


async def leave_group(ctx: BrokerContext, header: RequestHeader, body: m.LeaveGroupRequest) -> Reply:
    """v0-2 name one member (its error is the response's); v3+ a batch, each with its own error."""
    batch = header.api_version >= LEAVE_BATCH_VERSION
    if batch:
        members = tuple(MemberIdentity(x.member_id, x.group_instance_id) for x in body.members)
    else:
        members = (MemberIdentity(body.member_id),)
    if not body.group_id:
        return Reply(m.LeaveGroupResponse(error_code=int(ErrorCode.INVALID_GROUP_ID)))
    r = await ask(ctx, body.group_id, lambda rid: LeaveGroup(rid, members))
    if isinstance(r, ErrorCode):
        return Reply(m.LeaveGroupResponse(error_code=int(r)))
    assert isinstance(r, LeaveResult)
    if not batch:
        code = r.error or next((e for _, e in r.members), 0)
        return Reply(m.LeaveGroupResponse(error_code=int(code)))
    return Reply(
        m.LeaveGroupResponse(
            error_code=int(r.error),
            members=[
                m.LeaveGroupResponse.MemberResponse(
                    member_id=ident.member_id, group_instance_id=ident.group_instance_id, error_code=int(e)
                )
                for ident, e in r.members
            ],
        )
    )


# ---- ListGroups, DescribeGroups -------------------------------------------------------


async def list_groups(ctx: BrokerContext, header: RequestHeader, body: m.ListGroupsRequest) -> Reply:
    """Groups this broker coordinates; v4+ filters by state name, v5+ by group type (KIP-848's
    ListGroups: every group here is "classic"), both case-insensitively as Kafka."""
    if ctx.groups is None:
        return Reply(m.ListGroupsResponse(error_code=int(ErrorCode.COORDINATOR_NOT_AVAILABLE)))
    wanted = {s.lower() for s in body.states_filter} if header.api_version >= STATES_FILTER_VERSION else set()
    types = {t.lower() for t in body.types_filter} if header.api_version >= TYPES_FILTER_VERSION else set()
    listed = [] if types and CLASSIC not in types else ctx.groups.list_groups()
    groups = [
        m.ListGroupsResponse.ListedGroup(group_id=g, protocol_type=t or "", group_state=s.value, group_type=CLASSIC)
        for g, t, s in listed
        if not wanted or s.value.lower() in wanted
    ]
    code = ErrorCode.COORDINATOR_LOAD_IN_PROGRESS if ctx.groups.loading() else ErrorCode.NONE
    return Reply(m.ListGroupsResponse(error_code=int(code), groups=groups))


def described(group_id: str, d: GroupDescription) -> m.DescribeGroupsResponse.DescribedGroup:
    Member = m.DescribeGroupsResponse.DescribedGroupMember
    return m.DescribeGroupsResponse.DescribedGroup(
        error_code=int(d.error),
        group_id=group_id,
        group_state=d.state.value,
        protocol_type=d.protocol_type or "",
        protocol_data=d.protocol_name or "",
        members=[
            Member(
                member_id=x.member_id,
                group_instance_id=x.group_instance_id,
                client_id=x.client_id,
                client_host=x.client_host,
                member_metadata=x.metadata,
                member_assignment=x.assignment,
            )
            for x in d.members
        ],
    )


async def _describe_one(ctx: BrokerContext, group_id: str) -> m.DescribeGroupsResponse.DescribedGroup:
    def refused(code: ErrorCode) -> m.DescribeGroupsResponse.DescribedGroup:
        return m.DescribeGroupsResponse.DescribedGroup(error_code=int(code), group_id=group_id, group_state="")

    if ctx.groups is None:
        return refused(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    try:
        shell = ctx.groups.coordinator_for(group_id)
        if shell.group(group_id) is None and not shell.loading:  # never seen: Kafka says Dead
            return described(group_id, GroupDescription(GroupError.NONE, GroupState.DEAD, None, None, -1))
        d = await shell.request(group_id, lambda rid: DescribeGroup(rid))
    except CoordinatorRefusedError as exc:
        return refused(ErrorCode(int(exc.code)))
    assert isinstance(d, GroupDescription)
    return described(group_id, d)


async def describe_groups(ctx: BrokerContext, header: RequestHeader, body: m.DescribeGroupsRequest) -> Reply:
    groups = [await _describe_one(ctx, g) for g in body.groups]
    if header.api_version >= 3 and body.include_authorized_operations:  # KIP-430
        for g in groups:
            if g.error_code == 0:
                g.authorized_operations = authorized_operations(ctx.authorizer, ResourceType.GROUP, g.group_id)
    return Reply(m.DescribeGroupsResponse(groups=groups))


# ---- DeleteGroups ---------------------------------------------------------------------


async def _delete_one(ctx: BrokerContext, group_id: str) -> ErrorCode:
    if ctx.groups is None:
        return ErrorCode.COORDINATOR_NOT_AVAILABLE
    try:
        shell = ctx.groups.coordinator_for(group_id)
        if shell.group(group_id) is None and not shell.loading:
            return ErrorCode.GROUP_ID_NOT_FOUND
        r = await shell.request(group_id, lambda rid: DeleteGroup(rid))
    except CoordinatorRefusedError as exc:
        return ErrorCode(int(exc.code))
    assert isinstance(r, DeleteGroupResult)
    return ErrorCode(int(r.error))


async def delete_groups(ctx: BrokerContext, header: RequestHeader, body: m.DeleteGroupsRequest) -> Reply:
    return Reply(
        m.DeleteGroupsResponse(
            results=[
                m.DeleteGroupsResponse.DeletableGroupResult(group_id=g, error_code=int(await _delete_one(ctx, g)))
                for g in body.groups_names
            ]
        )
    )


# ---- OffsetDelete ----------------------------------------------------------------------


async def offset_delete(ctx: BrokerContext, header: RequestHeader, body: m.OffsetDeleteRequest) -> Reply:
    """KIP-496: sent to the group's coordinator; a group-level error answers for every partition."""
    R = m.OffsetDeleteResponse
    wanted = tuple((t.name, p.partition_index) for t in body.topics for p in t.partitions)
    error, answers = ErrorCode.NONE, {}
    try:
        if ctx.groups is None:
            raise CoordinatorRefusedError(ErrorCode.COORDINATOR_NOT_AVAILABLE, "no group coordinator")
        shell = ctx.groups.coordinator_for(body.group_id)
        if shell.group(body.group_id) is None and not shell.loading:
            error = ErrorCode.GROUP_ID_NOT_FOUND
        else:
            r = await shell.request(body.group_id, lambda rid: DeleteOffsets(rid, wanted))
            assert isinstance(r, DeleteOffsetsResult)
            error, answers = ErrorCode(int(r.error)), {tp: int(e) for tp, e in r.partitions}
    except CoordinatorRefusedError as exc:
        error = ErrorCode(int(exc.code))
    return Reply(
        R(
            error_code=int(error),
            topics=[
                R.OffsetDeleteResponseTopic(
                    name=t.name,
                    partitions=[
                        R.OffsetDeleteResponsePartition(
                            partition_index=p.partition_index, error_code=answers.get((t.name, p.partition_index), 0)
                        )
                        for p in t.partitions
                    ],
                )
                for t in body.topics
            ]
            if error == ErrorCode.NONE
            else [],
        )
    )
