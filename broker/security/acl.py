"""Kafka's ACL model and its ZooKeeper-era decision rule, as pure values and functions.

An ACL binds a resource pattern (type, name, LITERAL or PREFIXED) to an entry (principal,
host, operation, ALLOW or DENY). `decide` answers "may principal P at host H do operation O on
resource R" as Kafka's AclAuthorizer does: super users may do anything; any matching DENY
wins; else a matching ALLOW permits (READ, WRITE, DELETE and ALTER imply DESCRIBE;
ALTER_CONFIGS implies DESCRIBE_CONFIGS; ALL covers every operation); with no ACL at all on the
resource, `allow.everyone.if.no.acl.found` decides. Names and codes are Kafka's, JSON
is Kafka's znode JSON. This module must never do I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum


class ResourceType(IntEnum):
    UNKNOWN = 0
    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5
    DELEGATION_TOKEN = 6
    USER = 7


class PatternType(IntEnum):
    UNKNOWN = 0
    ANY = 1
    MATCH = 2
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    UNKNOWN = 0
    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12
    CREATE_TOKENS = 13
    DESCRIBE_TOKENS = 14


class Permission(IntEnum):
    UNKNOWN = 0
    ANY = 1
    DENY = 2
    ALLOW = 3


WILDCARD = "*"
WILDCARD_PRINCIPAL = "User:*"
CLUSTER_NAME = "kafka-cluster"

# Znode spellings (Kafka's ResourceType.toString and the JSON of an AclEntry).
TYPE_NAMES = {
    ResourceType.TOPIC: "Topic",
    ResourceType.GROUP: "Group",
    ResourceType.CLUSTER: "Cluster",
    ResourceType.TRANSACTIONAL_ID: "TransactionalId",
    ResourceType.DELEGATION_TOKEN: "DelegationToken",
    ResourceType.USER: "User",
}
TYPES_BY_NAME = {v: k for k, v in TYPE_NAMES.items()}
OPERATION_NAMES = {
    Operation.ALL: "All",
    Operation.READ: "Read",
    Operation.WRITE: "Write",
    Operation.CREATE: "Create",
    Operation.DELETE: "Delete",
    Operation.ALTER: "Alter",
    Operation.DESCRIBE: "Describe",
    Operation.CLUSTER_ACTION: "ClusterAction",
    Operation.DESCRIBE_CONFIGS: "DescribeConfigs",
    Operation.ALTER_CONFIGS: "AlterConfigs",
    Operation.IDEMPOTENT_WRITE: "IdempotentWrite",
    Operation.CREATE_TOKENS: "CreateTokens",
    Operation.DESCRIBE_TOKENS: "DescribeTokens",
}
OPERATIONS_BY_NAME = {v: k for k, v in OPERATION_NAMES.items()}
PERMISSION_NAMES = {Permission.ALLOW: "Allow", Permission.DENY: "Deny"}
PERMISSIONS_BY_NAME = {v: k for k, v in PERMISSION_NAMES.items()}

# An ALLOW for one of these also allows DESCRIBE (or DESCRIBE_CONFIGS), as in Kafka.
_IMPLIES = {
    Operation.DESCRIBE: {Operation.READ, Operation.WRITE, Operation.DELETE, Operation.ALTER},
    Operation.DESCRIBE_CONFIGS: {Operation.ALTER_CONFIGS},
}


@dataclass(frozen=True)
class Resource:
    type: ResourceType
    name: str
    pattern: PatternType = PatternType.LITERAL

    def matches(self, resource_type: ResourceType, name: str) -> bool:
        """Does this pattern cover the concrete resource (type, name)?"""
        if self.type != resource_type:
            return False
        if self.pattern == PatternType.PREFIXED:
            return name.startswith(self.name)
        return self.name == WILDCARD or self.name == name


@dataclass(frozen=True)
class Entry:
    principal: str
    host: str
    operation: Operation
    permission: Permission


@dataclass(frozen=True)
class AclBinding:
    resource: Resource
    entry: Entry


@dataclass(frozen=True)
class BindingFilter:
    """DescribeAcls / DeleteAcls filters: None and ANY match everything; MATCH patterns
    select every pattern that would apply to the named resource."""

    resource_type: ResourceType = ResourceType.ANY
    name: str | None = None
    pattern: PatternType = PatternType.ANY
    principal: str | None = None
    host: str | None = None
    operation: Operation = Operation.ANY
    permission: Permission = Permission.ANY

    def matches(self, b: AclBinding) -> bool:
        r, e = b.resource, b.entry
        if self.resource_type != ResourceType.ANY and r.type != self.resource_type:
            return False
        if self.pattern == PatternType.MATCH:
            if self.name is not None and not r.matches(r.type, self.name):
                return False
        else:
            if self.pattern != PatternType.ANY and r.pattern != self.pattern:
                return False
            if self.name is not None and r.name != self.name:
                return False
        return (
            (self.principal is None or e.principal == self.principal)
            and (self.host is None or e.host == self.host)
            and (self.operation == Operation.ANY or e.operation == self.operation)
            and (self.permission == Permission.ANY or e.permission == self.permission)
        )


def _entry_applies(e: Entry, principal: str, host: str) -> bool:
    return e.principal in (principal, WILDCARD_PRINCIPAL) and e.host in (host, WILDCARD)


def decide(
    bindings: Iterable[AclBinding],
    principal: str,
    host: str,
    operation: Operation,
    resource_type: ResourceType,
    name: str,
    *,
    super_users: frozenset[str] = frozenset(),
    allow_if_no_acl: bool = False,
) -> bool:
    """May `principal` at `host` do `operation` on (resource_type, name)?"""
    if principal in super_users:
        return True
    matching = [b.entry for b in bindings if b.resource.matches(resource_type, name)]
    if not matching:
        return allow_if_no_acl
    applying = [e for e in matching if _entry_applies(e, principal, host)]
    if any(e.permission == Permission.DENY and e.operation in (operation, Operation.ALL) for e in applying):
        return False
    allowed_ops = {operation, Operation.ALL} | _IMPLIES.get(operation, set())
    return any(e.permission == Permission.ALLOW and e.operation in allowed_ops for e in applying)


def znode_path(resource: Resource) -> str:
    """/kafka-acl/<Type>/<name> (literal) or /kafka-acl-extended/prefixed/<Type>/<name>."""
    base = "/kafka-acl" if resource.pattern == PatternType.LITERAL else "/kafka-acl-extended/prefixed"
    return f"{base}/{TYPE_NAMES[resource.type]}/{resource.name}"


def change_notification(resource: Resource) -> tuple[str, bytes]:
    """(the sequential node prefix, its data) announcing a change to `resource`'s ACLs."""
    if resource.pattern == PatternType.LITERAL:
        return "/kafka-acl-changes/acl_changes_", f"{TYPE_NAMES[resource.type]}:{resource.name}".encode()
    return "/kafka-acl-extended-changes/acl_changes_", json.dumps(
        {"version": 1, "resourceType": resource.type.name, "name": resource.name, "patternType": resource.pattern.name}
    ).encode()


def encode_entries(entries: Iterable[Entry]) -> bytes:
    return json.dumps(
        {
            "version": 1,
            "acls": [
                {
                    "principal": e.principal,
                    "permissionType": PERMISSION_NAMES[e.permission],
                    "operation": OPERATION_NAMES[e.operation],
                    "host": e.host,
                }
                for e in sorted(entries, key=lambda e: (e.principal, e.host, e.operation, e.permission))
            ],
        },
        separators=(",", ":"),
    ).encode()


def decode_entries(data: bytes | None) -> list[Entry]:
    """The entries of an ACL znode; ValueError if it is not Kafka's JSON."""
    if not data:
        return []
    obj = json.loads(data)
    return [
        Entry(a["principal"], a["host"], OPERATIONS_BY_NAME[a["operation"]], PERMISSIONS_BY_NAME[a["permissionType"]])
        for a in obj.get("acls", [])
    ]


def parse_super_users(value: str | None) -> frozenset[str]:
    """`super.users`: "User:a;User:b"."""
    return frozenset(p.strip() for p in (value or "").split(";") if p.strip())
