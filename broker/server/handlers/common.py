"""What every handler shares: the broker context, the reply type, and the error response.

Handlers take Kafka's typed request messages (`client.protocol.messages`) and return a `Reply`
holding the typed response. `error_response` builds the response a failed request gets: the
response of that API with the request's topics and partitions mirrored and every `error_code`
set, as Kafka's per-API `getErrorResponse` does, but generically from the message schemas.
This module must never hold per-API logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from broker.config import BrokerConfig
from broker.groups.manager import GroupManager
from broker.metadata.cache import MetadataCache
from broker.metadata.controller import Controller
from broker.metrics import BrokerMetrics
from broker.server.fetch_wakeups import FetchWakeups
from broker.server.idempotence import ProducerStates
from broker.server.log_manager import LogManager
from broker.server.producer_ids import ProducerIdManager
from broker.server.replica_manager import ReplicaManager
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.protocol.messages import API_BY_KEY, Message


class Slice(Protocol):
    """A run of bytes in an open file that a Fetch response's `records` field sends with sendfile."""

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
    wakeups: FetchWakeups = field(default_factory=FetchWakeups)  # fetch long-poll wake-ups
    producer_states: ProducerStates = field(default_factory=ProducerStates)  # idempotence: producer tables
    producer_ids: ProducerIdManager = field(default_factory=ProducerIdManager)  # InitProducerId
    groups: GroupManager | None = None  # consumer groups (issue 7)
    authorizer: Any = None  # broker.security.authorizer.Authorizer when ACLs are on (issue 14)
    metrics: BrokerMetrics | None = None  # None: metrics off (issue 15)
    dynamic_config: Any = None  # broker.server.dynamic_broker_config.DynamicBrokerConfig (issue 12)


@dataclass
class Reply:
    body: Any  # the response message of the request's API
    close_connection: bool = False
    close_reason: str = "a request failed where the protocol has no response (acks=0)"


class MalformedRequestError(Exception):
    """A request that decoded but makes no sense (e.g. a field out of range): INVALID_REQUEST."""


# Request fields whose value a response field of another name carries (Kafka names the partition
# `index` in Produce requests and `partition_index` in most responses, the topic `topic` or `name`).
_ALIASES = {
    "partition_index": ("partition_index", "partition", "index"),
    "partition": ("partition", "index"),
    "name": ("name", "topic"),
    "topic": ("topic", "name"),
}


def error_response(header: RequestHeader, request: Any, code: ErrorCode, message: str | None = None) -> Any:
    """The response of `header`'s API refusing `request` with `code` everywhere it has an error_code."""
    response = API_BY_KEY[header.api_key].response
    return _mirror(response, response, request, int(code), message)


def _has_error_code(top: type[Message], cls: type[Message]) -> bool:
    for f in cls._spec.fields:
        if f.name == "error_code":
            return True
        if f.struct is not None and f.tag is None and _has_error_code(top, getattr(top, f.struct.name)):
            return True
    return False


def _struct_arrays(obj: Any) -> list[list]:
    """The non-tagged array fields of a request struct whose items are structs or strings."""
    out = []
    for f in type(obj)._spec.fields:
        value = getattr(obj, f.name)
        if f.array and f.tag is None and (f.struct is not None or f.type == "string") and value:
            out.append(value)
    return out


def _mirror(top: type[Message], cls: type[Message], source: Any, code: int, message: str | None) -> Any:
    """An instance of `cls` whose keys come from `source` (a request struct, a string, or None)."""
    out = cls()
    names = () if source is None or isinstance(source, str) else {f.name for f in type(source)._spec.fields}
    for f in cls._spec.fields:
        if f.name == "error_code":
            out.error_code = code
        elif f.name == "error_message" and message is not None:
            out.error_message = message
        elif isinstance(source, str):
            if f.name in ("name", "topic") and f.type == "string" and not f.array:
                setattr(out, f.name, source)
        elif f.array and f.struct is not None and f.tag is None and source is not None:
            item_cls = getattr(top, f.struct.name)
            if not _has_error_code(top, item_cls):  # e.g. Metadata's brokers: nothing to refuse in them
                continue
            if f.name in names and isinstance(getattr(source, f.name), list):
                items = getattr(source, f.name)
            else:
                arrays = _struct_arrays(source)
                items = arrays[0] if arrays else []
            setattr(out, f.name, [_mirror(top, item_cls, item, code, message) for item in items])
        elif not f.array and f.struct is None and source is not None:
            for alias in _ALIASES.get(f.name, (f.name,)):
                if alias in names and not isinstance(getattr(source, alias), (list, Message)):
                    setattr(out, f.name, getattr(source, alias))
                    break
    return out


def slices_of(message: Any) -> list[Slice]:
    """Every file slice held in `message`'s records fields (to close those a reply never sent)."""
    out: list[Slice] = []
    if isinstance(message, Message):
        for name in message.__slots__:
            out.extend(slices_of(getattr(message, name)))
    elif isinstance(message, list):
        for item in message:
            out.extend(slices_of(item))
    elif hasattr(message, "length") and hasattr(message, "close"):
        out.append(message)
    return out
