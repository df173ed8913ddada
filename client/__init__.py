"""The Python client for pybroker: producer, consumer and admin, asyncio first.

Each asyncio class (AsyncProducer, AsyncConsumer, AsyncAdmin) has a synchronous facade
(Producer, Consumer, Admin) that runs it on a background event loop. Names are loaded on
first use (PEP 562), so the broker can import `client.protocol` for the shared wire
definitions without loading the producer and consumer. client imports nothing from
`broker` or `coord`: applications install and use it alone.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AsyncProducer": "client.producer.producer",
    "AsyncConsumer": "client.consumer.consumer",
    "AsyncAdmin": "client.admin",
    "Producer": "client.sync",
    "Consumer": "client.sync",
    "Admin": "client.sync",
    "TopicPartition": "client.structs",
    "RecordMetadata": "client.structs",
    "ConsumerRecord": "client.structs",
    "NewTopic": "client.structs",
    "TopicDescription": "client.structs",
    "PartitionDescription": "client.structs",
    "ClusterDescription": "client.structs",
    "BrokerDescription": "client.structs",
    "GroupListing": "client.structs",
    "GroupDescription": "client.structs",
    "MemberDescription": "client.structs",
}

__all__ = [  # the names of _EXPORTS, and the errors module
    "Admin",
    "AsyncAdmin",
    "AsyncConsumer",
    "AsyncProducer",
    "BrokerDescription",
    "ClusterDescription",
    "Consumer",
    "ConsumerRecord",
    "GroupDescription",
    "GroupListing",
    "MemberDescription",
    "NewTopic",
    "PartitionDescription",
    "Producer",
    "RecordMetadata",
    "TopicDescription",
    "TopicPartition",
    "errors",
]

if TYPE_CHECKING:
    from client import errors
    from client.admin import AsyncAdmin
    from client.consumer.consumer import AsyncConsumer
    from client.producer.producer import AsyncProducer
    from client.structs import (
        BrokerDescription,
        ClusterDescription,
        ConsumerRecord,
        GroupDescription,
        GroupListing,
        MemberDescription,
        NewTopic,
        PartitionDescription,
        RecordMetadata,
        TopicDescription,
        TopicPartition,
    )
    from client.sync import Admin, Consumer, Producer


def __getattr__(name: str) -> Any:
    if name == "errors":
        return importlib.import_module("client.errors")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'client' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
