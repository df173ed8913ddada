"""One request from this broker to the active controller, on a connection of its own.

A broker asks the controller for what only the controller may do: ControlledShutdown when
it stops, and CreateTopics for a topic a client's Metadata request may auto-create (the
forwarding Kafka 2.8+ does for admin requests, KIP-590). Rare requests, so each opens and
closes its own connection rather than sharing the controller channel's queues. It must
never retry: the caller knows whether asking again makes sense.
"""

from __future__ import annotations

from typing import Any

from broker.metadata.cache import MetadataCache
from client.errors import ClientError
from client.protocol.api import ApiKey


class ControllerUnreachableError(Exception):
    """No controller is known, or it could not be reached or did not answer."""


async def ask_controller(
    cache: MetadataCache,
    broker_id: int,
    api_key: ApiKey,
    body: Any,
    *,
    api_version: int | None = None,
    timeout_ms: int = 30000,
) -> Any:
    """The controller's response to `body`; raises ControllerUnreachableError."""
    info = cache.brokers.get(cache.controller_id)
    if info is None:
        raise ControllerUnreachableError(f"no controller is known (controller id {cache.controller_id})")
    try:
        conn = await cache.inter_broker.open(info, client_id=f"broker-{broker_id}", request_timeout_ms=timeout_ms)
        try:
            return await conn.request(api_key, body, api_version=api_version)
        finally:
            conn.close()
    except ClientError as exc:
        raise ControllerUnreachableError(f"controller {cache.controller_id} unreachable: {exc}") from exc
