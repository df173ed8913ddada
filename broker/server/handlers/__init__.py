"""Request handlers, one module per API or small family, and the dispatch table.

Each handler takes the broker context and a request body and returns a `Reply` (or None
when the protocol says no response, as for acks=0). Dispatch checks the API key and
version and turns a body of the wrong shape into INVALID_REQUEST, so handlers may read
fields with the `common` helpers and let `MalformedRequest` escape. Handlers must never
write to a socket themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from client.protocol.api import SUPPORTED_VERSIONS, ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.frames import Request

from broker.server.handlers import (
    admin, api_versions, fetch, groups, init_producer_id, list_offsets, metadata, offsets, produce,
    replica_control,
)
from broker.server.handlers.common import BrokerContext, MalformedRequest, Reply

log = logging.getLogger(__name__)

Handler = Callable[[BrokerContext, dict], Awaitable[Reply | None]]

HANDLERS: dict[ApiKey, Handler] = {
    ApiKey.API_VERSIONS: api_versions.handle,
    ApiKey.METADATA: metadata.handle,
    ApiKey.CREATE_TOPICS: admin.create_topics,
    ApiKey.DELETE_TOPICS: admin.delete_topics,
    ApiKey.PRODUCE: produce.handle,
    ApiKey.FETCH: fetch.handle,
    ApiKey.LIST_OFFSETS: list_offsets.handle,
    ApiKey.INIT_PRODUCER_ID: init_producer_id.handle,
    # consumer groups
    ApiKey.FIND_COORDINATOR: groups.find_coordinator,
    ApiKey.JOIN_GROUP: groups.join_group,
    ApiKey.SYNC_GROUP: groups.sync_group,
    ApiKey.HEARTBEAT: groups.heartbeat,
    ApiKey.LEAVE_GROUP: groups.leave_group,
    ApiKey.LIST_GROUPS: groups.list_groups,
    ApiKey.DESCRIBE_GROUPS: groups.describe_groups,
    ApiKey.OFFSET_COMMIT: offsets.offset_commit,
    ApiKey.OFFSET_FETCH: offsets.offset_fetch,
    ApiKey.LEADER_AND_ISR: replica_control.leader_and_isr,
    ApiKey.STOP_REPLICA: replica_control.stop_replica,
    ApiKey.UPDATE_METADATA: replica_control.update_metadata,
    ApiKey.CONTROLLED_SHUTDOWN: replica_control.controlled_shutdown,
    ApiKey.OFFSETS_FOR_LEADER_EPOCH: replica_control.offsets_for_leader_epoch,
}


def _refuse(code: ErrorCode, message: str, **extra: Any) -> Reply:
    return Reply({"error": int(code), "message": message, **extra})


async def dispatch(ctx: BrokerContext, request: Request) -> Reply | None:
    """Route one decoded request; never raises (a handler bug becomes UNKNOWN_SERVER_ERROR)."""
    try:
        key = ApiKey(request.api_key)
        handler = HANDLERS[key]
    except (ValueError, KeyError):
        return _refuse(ErrorCode.UNSUPPORTED_VERSION, f"this broker does not serve api key {request.api_key}")
    low, high = SUPPORTED_VERSIONS[key]
    if not low <= request.api_version <= high:
        extra = api_versions.table() if key is ApiKey.API_VERSIONS else {}
        return _refuse(ErrorCode.UNSUPPORTED_VERSION,
                       f"{key.name} version {request.api_version} is not supported; this broker speaks "
                       f"versions {low}-{high}", **extra)
    if not isinstance(request.body, dict):
        return _refuse(ErrorCode.INVALID_REQUEST, f"the {key.name} body must be a map")
    try:
        return await handler(ctx, request.body)
    except MalformedRequest as exc:
        return _refuse(ErrorCode.INVALID_REQUEST, f"malformed {key.name} request: {exc}")
    except Exception:
        log.exception("handler for %s failed (correlation id %d)", key.name, request.correlation_id)
        return _refuse(ErrorCode.UNKNOWN_SERVER_ERROR, f"the broker failed while handling {key.name}; see its log")
