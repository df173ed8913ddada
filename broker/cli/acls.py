"""`pybroker acls add|list|remove`: Kafka's ACLs through the brokers' CreateAcls, DescribeAcls and
DeleteAcls (what kafka-acls --bootstrap-server does), with kafka-acls' flag names.

The caller needs ALTER (add, remove) or DESCRIBE (list) on the cluster, so an operator runs
it as a super user, with `--command-config FILE` holding the client's security properties.
This module must never write coord itself.
"""

from __future__ import annotations

import argparse

from broker.cli.clientcmd import add_bootstrap, run_client
from broker.security.acl import (
    CLUSTER_NAME,
    OPERATION_NAMES,
    OPERATIONS_BY_NAME,
    Operation,
    PatternType,
    Permission,
    ResourceType,
)
from client.conn import BrokerConnection
from client.errors import BrokerError, ClientError
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.security import PLAINTEXT, from_properties, read_properties


def _resources(args: argparse.Namespace) -> list[tuple[ResourceType, str | None]]:
    out: list[tuple[ResourceType, str | None]] = [(ResourceType.TOPIC, t) for t in args.topic or ()]
    out += [(ResourceType.GROUP, g) for g in args.group or ()]
    if args.cluster:
        out.append((ResourceType.CLUSTER, CLUSTER_NAME))
    return out


def _operation(name: str) -> Operation:
    key = {n.lower(): op for n, op in OPERATIONS_BY_NAME.items()}.get(name.replace("-", "").replace("_", "").lower())
    if key is None:
        raise ValueError(f"operation {name!r}: expected one of {', '.join(OPERATION_NAMES.values())}")
    return key


def _entries(args: argparse.Namespace) -> list[tuple[str, Permission]]:
    return [(p, Permission.ALLOW) for p in args.allow_principal or ()] + [
        (p, Permission.DENY) for p in args.deny_principal or ()
    ]


async def _connect(args: argparse.Namespace) -> BrokerConnection:
    security = from_properties(read_properties(args.command_config)) if args.command_config else PLAINTEXT
    last: Exception | None = None
    for address in args.bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            return await BrokerConnection.open(host, int(port), client_id="pybroker-acls", security=security)
        except ClientError as exc:
            last = exc
    raise ClientError(f"no broker answered: {last}")


async def _run(args: argparse.Namespace) -> int:
    pattern = PatternType[args.resource_pattern_type.upper()]
    conn = await _connect(args)
    try:
        if args.acls_command == "add":
            return await _add(conn, args, pattern)
        if args.acls_command == "remove":
            return await _remove(conn, args, pattern)
        return await _list(conn, args)
    finally:
        conn.close()


async def _add(conn: BrokerConnection, args: argparse.Namespace, pattern: PatternType) -> int:
    C = m.CreateAclsRequest.AclCreation
    resources, entries = _resources(args), _entries(args)
    if not resources or not entries or not args.operation:
        raise ValueError(
            "acls add needs a resource (--topic, --group, --cluster), a principal "
            "(--allow-principal / --deny-principal) and --operation"
        )
    creations = [
        C(
            resource_type=int(t),
            resource_name=n,
            resource_pattern_type=int(pattern),
            principal=p,
            host=args.host,
            operation=int(_operation(o)),
            permission_type=int(perm),
        )
        for t, n in resources
        for p, perm in entries
        for o in args.operation
    ]
    answer = await conn.request(ApiKey.CREATE_ACLS, m.CreateAclsRequest(creations=creations))
    for _, r in zip(creations, answer.results, strict=True):
        if r.error_code:
            raise BrokerError.for_code(r.error_code, r.error_message)
    print(f"added {len(creations)} ACL(s)")
    return 0


async def _remove(conn: BrokerConnection, args: argparse.Namespace, pattern: PatternType) -> int:
    F = m.DeleteAclsRequest.DeleteAclsFilter
    resources = _resources(args)
    if not resources:
        raise ValueError("acls remove needs a resource (--topic, --group, --cluster)")
    entries: list[tuple[str | None, Permission]] = [*_entries(args)] or [(None, Permission.ANY)]
    ops = [_operation(o) for o in args.operation] if args.operation else [Operation.ANY]
    filters = [
        F(
            resource_type_filter=int(t),
            resource_name_filter=n,
            pattern_type_filter=int(pattern),
            principal_filter=p,
            host_filter=None,
            operation=int(o),
            permission_type=int(perm),
        )
        for t, n in resources
        for p, perm in entries
        for o in ops
    ]
    answer = await conn.request(ApiKey.DELETE_ACLS, m.DeleteAclsRequest(filters=filters))
    removed = 0
    for r in answer.filter_results:
        if r.error_code:
            raise BrokerError.for_code(r.error_code, r.error_message)
        removed += len(r.matching_acls)
    print(f"removed {removed} ACL(s)")
    return 0


async def _list(conn: BrokerConnection, args: argparse.Namespace) -> int:
    resources = _resources(args) or [(ResourceType.ANY, None)]
    for rtype, name in resources:
        answer = await conn.request(
            ApiKey.DESCRIBE_ACLS,
            m.DescribeAclsRequest(
                resource_type_filter=int(rtype),
                resource_name_filter=name,
                pattern_type_filter=int(PatternType.ANY),
                principal_filter=None,
                host_filter=None,
                operation=int(Operation.ANY),
                permission_type=int(Permission.ANY),
            ),
        )
        if answer.error_code:
            raise BrokerError.for_code(answer.error_code, answer.error_message)
        for r in answer.resources:
            print(f"{ResourceType(r.resource_type).name}:{PatternType(r.pattern_type).name}:{r.resource_name}")
            for a in r.acls:
                print(
                    f"\t{a.principal} from {a.host}: {Permission(a.permission_type).name} "
                    f"{OPERATION_NAMES.get(Operation(a.operation), a.operation)}"
                )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("acls", help="Kafka ACLs (kafka-acls), through the brokers")
    sub = group.add_subparsers(dest="acls_command", metavar="ACTION")
    for name, text in (("add", "add ACLs"), ("list", "list ACLs"), ("remove", "remove ACLs")):
        p = sub.add_parser(name, help=text)
        add_bootstrap(p)
        p.add_argument("--topic", action="append", help="a topic (repeatable)")
        p.add_argument("--group", action="append", help="a consumer group (repeatable)")
        p.add_argument("--cluster", action="store_true", help="the cluster resource")
        p.add_argument("--resource-pattern-type", default="literal", choices=["literal", "prefixed", "any", "match"])
        p.add_argument("--allow-principal", action="append", metavar="User:NAME")
        p.add_argument("--deny-principal", action="append", metavar="User:NAME")
        p.add_argument(
            "--operation",
            action="append",
            help="Read, Write, Create, Delete, Alter, Describe, "
            "ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, All (repeatable)",
        )
        p.add_argument("--host", default="*", help="the client host an ACL applies to (default *)")
        p.set_defaults(func=lambda args: run_client(_run(args)))
    group.set_defaults(func=lambda args: (group.print_help(), 2)[1])
