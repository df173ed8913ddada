"""Group membership APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
ListGroups, DescribeGroups.

Each handler checks the body's fields, turns it into the group core's event, lets the
broker's `GroupManager` route it to the group's coordinator shell, and puts the core's
answer on the wire (docs/protocol.md lists every field). A broker that does not
coordinate the group answers NOT_COORDINATOR; one still loading the group's partition,
COORDINATOR_LOAD_IN_PROGRESS. Handlers must never change group state themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from client.protocol.errors import ErrorCode

from broker.groups.messages import ErrorCode as GroupError
from broker.groups.messages import (
    DescribeGroup, GroupDescription, GroupState, Heartbeat, JoinGroup, JoinResult, LeaveGroup, LeaveResult,
    MemberIdentity, Response, SyncGroup, SyncResult,
)
from broker.groups.shell import CoordinatorRefused
from broker.server.handlers.common import BrokerContext, MalformedRequest, Reply, get, get_entries

MAX_GROUP_ID_LENGTH = 249


def group_id_of(body: dict) -> str:
    group_id = get(body, "group_id", str)
    if not group_id or len(group_id) > MAX_GROUP_ID_LENGTH:
        raise MalformedRequest(f"group_id must be 1-{MAX_GROUP_ID_LENGTH} characters, not {group_id!r}")
    return group_id


def refused(exc: CoordinatorRefused, **extra: Any) -> Reply:
    return Reply({"error": int(exc.code), "message": exc.message, **extra})


async def ask(ctx: BrokerContext, group_id: str, make: Callable[[int], Any],
              answer: Callable[[Response], dict], **on_refusal: Any) -> Reply:
    """Route one request to the group's coordinator; the core's answer, or the refusal."""
    if ctx.groups is None:
        return Reply({"error": int(ErrorCode.COORDINATOR_NOT_AVAILABLE), "message": "groups are not running",
                      **on_refusal})
    try:
        response = await ctx.groups.request(group_id, make)
    except CoordinatorRefused as exc:
        return refused(exc, **on_refusal)
    return Reply(answer(response))


def _message(code: int) -> str | None:
    return None if code == 0 else ErrorCode(code).name.lower().replace("_", " ")


async def find_coordinator(ctx: BrokerContext, body: dict) -> Reply:
    key = get(body, "key", str)
    if get(body, "key_type", int, 0) != 0:
        return Reply({"error": int(ErrorCode.INVALID_REQUEST), "message": "only group coordinators (key_type 0) exist",
                      "node_id": -1, "host": "", "port": -1})
    if ctx.groups is None:
        return Reply({"error": int(ErrorCode.COORDINATOR_NOT_AVAILABLE), "message": "groups are not running",
                      "node_id": -1, "host": "", "port": -1})
    try:
        broker = await ctx.groups.find_coordinator(key)
    except CoordinatorRefused as exc:
        return refused(exc, node_id=-1, host="", port=-1)
    return Reply({"error": 0, "message": None, "node_id": broker.broker_id, "host": broker.host,
                  "port": broker.port})


def _protocols(body: dict) -> tuple[tuple[str, bytes], ...]:
    out = []
    for entry in get_entries(body, "protocols"):
        name, metadata = get(entry, "name", str), get(entry, "metadata", bytes)
        out.append((name, metadata))
    return tuple(out)


async def join_group(ctx: BrokerContext, body: dict) -> Reply:
    group_id = group_id_of(body)
    session = get(body, "session_timeout_ms", int)
    rebalance = get(body, "rebalance_timeout_ms", int, session)
    member_id = get(body, "member_id", str, "")
    instance = get(body, "group_instance_id", (str, type(None)), None)
    protocol_type = get(body, "protocol_type", str)
    protocols = _protocols(body)
    client_id = get(body, "client_id", str, "consumer") or "consumer"
    known = get(body, "require_known_member_id", bool, False)

    def answer(r: Response) -> dict:
        assert isinstance(r, JoinResult)
        return {"error": int(r.error), "message": _message(r.error), "generation_id": r.generation_id,
                "protocol_type": r.protocol_type, "protocol_name": r.protocol_name, "leader": r.leader_id,
                "member_id": r.member_id,
                "members": [{"member_id": m.member_id, "group_instance_id": m.group_instance_id,
                             "metadata": m.metadata} for m in r.members]}

    return await ask(ctx, group_id, lambda rid: JoinGroup(rid, member_id, protocol_type, protocols, session,
                                                          rebalance, instance, client_id, known),
                     answer, generation_id=-1, member_id=member_id, leader="", members=[])


async def sync_group(ctx: BrokerContext, body: dict) -> Reply:
    group_id = group_id_of(body)
    generation = get(body, "generation_id", int)
    member_id = get(body, "member_id", str)
    instance = get(body, "group_instance_id", (str, type(None)), None)
    assignments = tuple((get(e, "member_id", str), get(e, "assignment", bytes))
                        for e in get_entries(body, "assignments"))

    def answer(r: Response) -> dict:
        assert isinstance(r, SyncResult)
        return {"error": int(r.error), "message": _message(r.error), "protocol_type": r.protocol_type,
                "protocol_name": r.protocol_name, "assignment": r.assignment}

    return await ask(ctx, group_id, lambda rid: SyncGroup(rid, member_id, generation, assignments, instance),
                     answer, assignment=b"")


async def heartbeat(ctx: BrokerContext, body: dict) -> Reply:
    group_id = group_id_of(body)
    generation = get(body, "generation_id", int)
    member_id = get(body, "member_id", str)
    instance = get(body, "group_instance_id", (str, type(None)), None)
    return await ask(ctx, group_id, lambda rid: Heartbeat(rid, member_id, generation, instance),
                     lambda r: {"error": int(r.error), "message": _message(r.error)})  # type: ignore[union-attr]


async def leave_group(ctx: BrokerContext, body: dict) -> Reply:
    group_id = group_id_of(body)
    members = tuple(MemberIdentity(get(e, "member_id", str, ""), get(e, "group_instance_id", (str, type(None)), None))
                    for e in get_entries(body, "members"))

    def answer(r: Response) -> dict:
        assert isinstance(r, LeaveResult)
        return {"error": int(r.error), "message": _message(r.error),
                "members": [{"member_id": m.member_id, "group_instance_id": m.group_instance_id, "error": int(e)}
                            for m, e in r.members]}

    return await ask(ctx, group_id, lambda rid: LeaveGroup(rid, members), answer, members=[])


async def list_groups(ctx: BrokerContext, body: dict) -> Reply:
    groups = ctx.groups.list_groups() if ctx.groups is not None else []
    return Reply({"error": 0, "message": None, "groups": [
        {"group_id": g, "protocol_type": t or "", "state": s.value} for g, t, s in groups]})


def describe_entry(group_id: str, d: GroupDescription) -> dict:
    return {"group_id": group_id, "error": int(d.error), "message": _message(d.error), "state": d.state.value,
            "protocol_type": d.protocol_type or "", "protocol_name": d.protocol_name or "",
            "generation_id": d.generation_id,
            "members": [{"member_id": m.member_id, "group_instance_id": m.group_instance_id,
                         "client_id": m.client_id, "metadata": m.metadata, "assignment": m.assignment}
                        for m in d.members]}


async def _describe_one(ctx: BrokerContext, group_id: str) -> dict:
    if ctx.groups is None:
        return {"group_id": group_id, "error": int(ErrorCode.COORDINATOR_NOT_AVAILABLE),
                "message": "groups are not running", "members": []}
    try:
        shell = ctx.groups.coordinator_for(group_id)
        if shell.group(group_id) is None and not shell.loading:   # never seen: Kafka says Dead
            return describe_entry(group_id, GroupDescription(GroupError.NONE, GroupState.DEAD, None, None, -1))
        d = await shell.request(group_id, lambda rid: DescribeGroup(rid))
    except CoordinatorRefused as exc:
        return {"group_id": group_id, "error": int(exc.code), "message": exc.message, "members": []}
    assert isinstance(d, GroupDescription)
    return describe_entry(group_id, d)


async def describe_groups(ctx: BrokerContext, body: dict) -> Reply:
    names = get(body, "groups", list)
    if not all(isinstance(n, str) and n for n in names):
        raise MalformedRequest("groups must be a list of non-empty group ids")
    return Reply({"error": 0, "message": None, "groups": [await _describe_one(ctx, n) for n in names]})

