"""The operations a caller may perform on a resource, as the bit field Metadata (v8+: topics,
v8-10: the cluster) and DescribeGroups (v3+) answer when asked (KIP-430).

Each resource type has Kafka's set of supported operations; with an authorizer, those the
caller is allowed (implied ones included: ALTER allows DESCRIBE); without one, all of them,
as Kafka answers. Bit n stands for the operation whose code is n. This module must never
decide an ACL itself: the authorizer does.
"""

from __future__ import annotations

from typing import Any

from broker.security import session as sessions
from broker.security.acl import Operation as Op
from broker.security.acl import ResourceType as T

SUPPORTED: dict[T, tuple[Op, ...]] = {
    T.CLUSTER: (
        Op.CREATE,
        Op.CLUSTER_ACTION,
        Op.DESCRIBE_CONFIGS,
        Op.ALTER_CONFIGS,
        Op.IDEMPOTENT_WRITE,
        Op.ALTER,
        Op.DESCRIBE,
    ),
    T.TOPIC: (Op.READ, Op.WRITE, Op.CREATE, Op.DESCRIBE, Op.DELETE, Op.ALTER, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS),
    T.GROUP: (Op.READ, Op.DESCRIBE, Op.DELETE),
}
NOT_REQUESTED = -2147483648  # Kafka's "authorized operations not asked for"


def authorized_operations(authorizer: Any, resource_type: T, name: str | None = None) -> int:
    """The bit field of what the current request's caller may do to the resource."""
    ops = SUPPORTED[resource_type]
    if authorizer is not None:
        caller = sessions.current()
        ops = tuple(
            op
            for op in ops
            if (
                authorizer.allowed(caller, op, resource_type)
                if name is None
                else authorizer.allowed(caller, op, resource_type, name)
            )
        )
    return sum(1 << int(op) for op in ops)
