"""Request handlers, one module per API or small family, and the dispatch table.

Each handler takes the broker context, the request header (its `api_version` is the version to
answer in) and the typed request body, and returns a `Reply` with the typed response (or None
when the protocol says no response, as for acks=0). The connection has already refused API keys
and versions outside `SUPPORTED_VERSIONS` and bodies that do not decode. A handler that raises
`MalformedRequestError` gets an INVALID_REQUEST response (with ACLs on, `broker.security.gate` checks
the caller first), any other exception an UNKNOWN_SERVER_ERROR
one, both built by `common.error_response`. Handlers must never write to a socket themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from broker.security.gate import guarded
from broker.server.handlers import (
    acls,
    admin,
    admin_configs,
    admin_elect_leaders,
    api_versions,
    create_partitions,
    delete_records,
    describe_configs,
    fetch,
    groups,
    init_producer_id,
    list_offsets,
    metadata,
    offsets,
    produce,
    replica_control,
    sasl,
    scram_credentials,
)
from broker.server.handlers.common import BrokerContext, MalformedRequestError, Reply, error_response
from client.protocol.api import ACKS_NONE, ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader

log = logging.getLogger(__name__)

Handler = Callable[[BrokerContext, RequestHeader, Any], Awaitable[Reply | None]]

HANDLERS: dict[ApiKey, Handler] = {
    ApiKey.API_VERSIONS: api_versions.handle,
    ApiKey.METADATA: metadata.handle,
    ApiKey.CREATE_TOPICS: admin.create_topics,
    ApiKey.DELETE_TOPICS: admin.delete_topics,
    ApiKey.CREATE_PARTITIONS: create_partitions.handle,
    ApiKey.DESCRIBE_CONFIGS: describe_configs.handle,
    ApiKey.DELETE_RECORDS: delete_records.handle,
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
    ApiKey.SASL_HANDSHAKE: sasl.handshake,
    ApiKey.CREATE_ACLS: acls.create_acls,
    ApiKey.DESCRIBE_ACLS: acls.describe_acls,
    ApiKey.DELETE_ACLS: acls.delete_acls,
    ApiKey.SASL_AUTHENTICATE: sasl.authenticate,
    ApiKey.ALTER_CONFIGS: admin_configs.alter_configs,
    ApiKey.INCREMENTAL_ALTER_CONFIGS: admin_configs.incremental_alter_configs,
    ApiKey.DELETE_GROUPS: groups.delete_groups,
    ApiKey.OFFSET_DELETE: groups.offset_delete,
    ApiKey.ELECT_LEADERS: admin_elect_leaders.handle,
    ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS: scram_credentials.describe,
    ApiKey.ALTER_USER_SCRAM_CREDENTIALS: scram_credentials.alter,
}


def _no_response_expected(header: RequestHeader, body: Any) -> bool:
    return header.api_key == ApiKey.PRODUCE and body.acks == ACKS_NONE


async def dispatch(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply | None:
    """Route one decoded request; never raises (a handler bug becomes UNKNOWN_SERVER_ERROR).

    Where no response can carry the error (an acks=0 Produce), or none can be built, the
    reply closes the connection, as Kafka does."""
    try:
        return await guarded(ctx, header, body, lambda: HANDLERS[ApiKey(header.api_key)](ctx, header, body))
    except MalformedRequestError as exc:
        code, message = ErrorCode.INVALID_REQUEST, f"malformed {ApiKey(header.api_key).name} request: {exc}"
    except Exception:
        log.exception(
            "handler for %s v%d failed (correlation id %d)",
            ApiKey(header.api_key).name,
            header.api_version,
            header.correlation_id,
        )
        code = ErrorCode.UNKNOWN_SERVER_ERROR
        message = f"the broker failed while handling {ApiKey(header.api_key).name}; see its log"
    if _no_response_expected(header, body):
        return Reply(None, close_connection=True, close_reason=message)
    try:
        return Reply(error_response(header, body, code, message))
    except Exception:
        log.exception("no error response could be built for %s", ApiKey(header.api_key).name)
        return Reply(None, close_connection=True, close_reason=message)
