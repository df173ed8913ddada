"""What every handler shares: the broker context, the reply type, body field readers.

The readers turn a missing or wrongly typed field into `MalformedRequest`, which
dispatch answers with INVALID_REQUEST, so a hostile body can never raise anything else.
This module must never hold per-API logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from client.protocol.errors import ErrorCode

from broker.config import BrokerConfig
from broker.groups.manager import GroupManager
from broker.metadata.cache import MetadataCache
from broker.metadata.controller import Controller
from broker.server.log_manager import LogManager
from broker.server.producer_ids import ProducerIdManager
from broker.server.replica_manager import ReplicaManager


class Slice(Protocol):
    """A run of bytes in an open file that a response sends as its tail."""

    file: Any
    position: int
    length: int

    def close(self) -> None: ...


@dataclass
class BrokerContext:
    config: BrokerConfig
    cache: MetadataCache
    logs: LogManager
    replicas: ReplicaManager
    controller: Controller
    producer_ids: ProducerIdManager = field(default_factory=ProducerIdManager)  # InitProducerId
    groups: GroupManager | None = None   # consumer groups (issue 7)


@dataclass
class Reply:
    body: dict
    tail: list[Slice] = field(default_factory=list)
    close_connection: bool = False
    close_reason: str = "a request failed where the protocol has no response (acks=0)"


class MalformedRequest(Exception):
    """The body lacks a field or has one of the wrong type."""


_MISSING = object()


def get(body: dict, key: str, kind: type | tuple[type, ...], default: Any = _MISSING) -> Any:
    value = body.get(key, _MISSING) if isinstance(body, dict) else _MISSING
    if value is _MISSING:
        if default is _MISSING:
            raise MalformedRequest(f"missing field {key!r}")
        return default
    if kind is int and type(value) is not int or not isinstance(value, kind):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise MalformedRequest(f"field {key!r} must be {name}, not {type(value).__name__}")
    return value


def get_entries(body: dict, key: str = "partitions") -> list[dict]:
    entries = get(body, key, list)
    if not all(isinstance(e, dict) for e in entries):
        raise MalformedRequest(f"every item of {key!r} must be a map")
    return entries


def partition_error(topic: Any, partition: Any, code: ErrorCode, message: str | None, **fields: Any) -> dict:
    return {"topic": topic, "partition": partition, "error": int(code), "message": message, **fields}
