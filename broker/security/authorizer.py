"""Kafka's ZooKeeper-era authorizer (`authorizer.class.name` set): the ACL cache, super users,
and allow.everyone.if.no.acl.found, answering "may this session do that".

Requests with no connection (this broker's own controller talking to itself) are this broker
and always allowed. Without an authorizer nothing is checked, as in Kafka. This module must
never decide what an API needs (`gate` does) or touch coord except through `AclStore`.
"""

from __future__ import annotations

from typing import Any

from broker.security.acl import CLUSTER_NAME, Operation, Permission, ResourceType, decide, parse_super_users
from broker.security.acl_store import AclStore
from broker.security.session import Session


class Authorizer:
    def __init__(self, store: AclStore, super_users: str | None, allow_if_no_acl: bool) -> None:
        self.store = store
        self.super_users = parse_super_users(super_users)
        self.allow_if_no_acl = allow_if_no_acl

    @classmethod
    def from_config(cls, config: Any, coord: Any) -> Authorizer | None:
        if not config.authorizer_class_name:
            return None
        return cls(AclStore(coord), config.super_users, config.allow_everyone_if_no_acl_found)

    def allowed(
        self, session: Session, operation: Operation, resource_type: ResourceType, name: str = CLUSTER_NAME
    ) -> bool:
        if session.local:
            return True
        return decide(
            self.store.bindings,
            session.principal,
            session.host,
            operation,
            resource_type,
            name,
            super_users=self.super_users,
            allow_if_no_acl=self.allow_if_no_acl,
        )

    def may_write_some_topic(self, session: Session) -> bool:
        """Kafka 2.8+ lets a producer without IDEMPOTENT_WRITE get a producer id if it may
        WRITE some topic: any topic pattern with an ALLOW WRITE (or ALL) for it."""
        if session.local or session.principal in self.super_users:
            return True
        return any(
            b.resource.type == ResourceType.TOPIC
            and b.entry.permission == Permission.ALLOW
            and b.entry.operation in (Operation.WRITE, Operation.ALL)
            and self.allowed(session, Operation.WRITE, ResourceType.TOPIC, b.resource.name)
            for b in self.store.bindings
        )
