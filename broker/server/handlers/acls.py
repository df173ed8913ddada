"""CreateAcls, DescribeAcls and DeleteAcls: Kafka's admin APIs over the ACLs kept in coord.

Any broker serves them (as in Kafka on ZooKeeper, each writes coord itself and leaves a change
notification that every broker's cache follows). Without an authorizer they answer
SECURITY_DISABLED. Bad values (an UNKNOWN or ANY type where a concrete one is needed, a
principal not of the form Type:name) answer INVALID_REQUEST for that entry. This module
must never decide an authorization.
"""

from __future__ import annotations

from typing import Any

from broker.security.acl import (
    CLUSTER_NAME,
    AclBinding,
    BindingFilter,
    Entry,
    Operation,
    PatternType,
    Permission,
    Resource,
    ResourceType,
)
from broker.server.handlers.common import BrokerContext, Reply
from client.protocol import messages as m
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader

_DISABLED = "no authorizer is configured on this broker (authorizer.class.name)"
_CONCRETE_TYPES = {
    ResourceType.TOPIC,
    ResourceType.GROUP,
    ResourceType.CLUSTER,
    ResourceType.TRANSACTIONAL_ID,
    ResourceType.DELEGATION_TOKEN,
    ResourceType.USER,
}


def _binding(c: Any) -> AclBinding:
    """A CreateAcls creation as a binding; ValueError saying what is wrong with it."""
    try:
        rtype, pattern = ResourceType(c.resource_type), PatternType(c.resource_pattern_type)
        op, perm = Operation(c.operation), Permission(c.permission_type)
    except ValueError as exc:
        raise ValueError(f"unknown code in ACL: {exc}") from None
    if rtype not in _CONCRETE_TYPES or pattern not in (PatternType.LITERAL, PatternType.PREFIXED):
        raise ValueError(f"resource type {rtype.name} with pattern {pattern.name} cannot hold an ACL")
    if op in (Operation.ANY, Operation.UNKNOWN) or perm not in (Permission.ALLOW, Permission.DENY):
        raise ValueError(f"operation {op.name} / permission {perm.name} cannot be granted")
    if ":" not in c.principal or not c.resource_name or "/" in c.resource_name:
        raise ValueError(f"principal {c.principal!r} (expected Type:name) or resource name {c.resource_name!r}")
    if rtype == ResourceType.CLUSTER and c.resource_name != CLUSTER_NAME:
        raise ValueError(f"the cluster resource is named {CLUSTER_NAME}")
    return AclBinding(Resource(rtype, c.resource_name, pattern), Entry(c.principal, c.host, op, perm))


def _filter(f: Any) -> BindingFilter:
    return BindingFilter(
        ResourceType(f.resource_type_filter),
        f.resource_name_filter,
        PatternType(f.pattern_type_filter),
        f.principal_filter,
        f.host_filter,
        Operation(f.operation),
        Permission(f.permission_type),
    )


async def create_acls(ctx: BrokerContext, header: RequestHeader, body: m.CreateAclsRequest) -> Reply:
    R = m.CreateAclsResponse
    if ctx.authorizer is None:
        return Reply(
            R(
                results=[
                    R.AclCreationResult(error_code=int(ErrorCode.SECURITY_DISABLED), error_message=_DISABLED)
                    for _ in body.creations
                ]
            )
        )
    results = []
    for c in body.creations:
        try:
            b = _binding(c)
        except ValueError as exc:
            results.append(R.AclCreationResult(error_code=int(ErrorCode.INVALID_REQUEST), error_message=str(exc)))
            continue
        await ctx.authorizer.store.update(b.resource, add=[b.entry])
        results.append(R.AclCreationResult(error_code=0, error_message=None))
    return Reply(R(results=results))


async def describe_acls(ctx: BrokerContext, header: RequestHeader, body: m.DescribeAclsRequest) -> Reply:
    R = m.DescribeAclsResponse
    if ctx.authorizer is None:
        return Reply(R(error_code=int(ErrorCode.SECURITY_DISABLED), error_message=_DISABLED))
    try:
        flt = _filter(body)
    except ValueError as exc:
        return Reply(R(error_code=int(ErrorCode.INVALID_REQUEST), error_message=str(exc)))
    by_resource: dict[Resource, list[Entry]] = {}
    for b in ctx.authorizer.store.matching(flt):
        by_resource.setdefault(b.resource, []).append(b.entry)
    return Reply(
        R(
            error_code=0,
            error_message=None,
            resources=[
                R.DescribeAclsResource(
                    resource_type=int(r.type),
                    resource_name=r.name,
                    pattern_type=int(r.pattern),
                    acls=[
                        R.AclDescription(
                            principal=e.principal,
                            host=e.host,
                            operation=int(e.operation),
                            permission_type=int(e.permission),
                        )
                        for e in entries
                    ],
                )
                for r, entries in sorted(by_resource.items(), key=lambda kv: (kv[0].type, kv[0].name, kv[0].pattern))
            ],
        )
    )


async def delete_acls(ctx: BrokerContext, header: RequestHeader, body: m.DeleteAclsRequest) -> Reply:
    R = m.DeleteAclsResponse
    if ctx.authorizer is None:
        return Reply(
            R(
                filter_results=[
                    R.DeleteAclsFilterResult(error_code=int(ErrorCode.SECURITY_DISABLED), error_message=_DISABLED)
                    for _ in body.filters
                ]
            )
        )
    results = []
    for f in body.filters:
        try:
            matched = ctx.authorizer.store.matching(_filter(f))
        except ValueError as exc:
            results.append(R.DeleteAclsFilterResult(error_code=int(ErrorCode.INVALID_REQUEST), error_message=str(exc)))
            continue
        by_resource: dict[Resource, list[Entry]] = {}
        for b in matched:
            by_resource.setdefault(b.resource, []).append(b.entry)
        for resource, entries in by_resource.items():
            await ctx.authorizer.store.update(resource, remove=entries)
        results.append(
            R.DeleteAclsFilterResult(
                error_code=0,
                error_message=None,
                matching_acls=[
                    R.DeleteAclsMatchingAcl(
                        error_code=0,
                        error_message=None,
                        resource_type=int(b.resource.type),
                        resource_name=b.resource.name,
                        pattern_type=int(b.resource.pattern),
                        principal=b.entry.principal,
                        host=b.entry.host,
                        operation=int(b.entry.operation),
                        permission_type=int(b.entry.permission),
                    )
                    for b in matched
                ],
            )
        )
    return Reply(R(filter_results=results))
