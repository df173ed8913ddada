"""ApiVersions: which API keys and versions this broker speaks (`api.SUPPORTED_VERSIONS`).

The connection answers an ApiVersions request of a version we do not serve with `refusal`,
which it writes in the v0 layout: UNSUPPORTED_VERSION and the whole table, from which the
client picks a version both sides speak and asks again (KIP-511).
"""

from __future__ import annotations

from typing import Any

from broker.server.handlers.common import BrokerContext, Reply
from client.protocol.api import SUPPORTED_VERSIONS
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.protocol.messages import ApiVersionsResponse


def _table() -> list[Any]:
    return [
        ApiVersionsResponse.ApiVersion(api_key=int(k), min_version=lo, max_version=hi)
        for k, (lo, hi) in sorted(SUPPORTED_VERSIONS.items())
    ]


def refusal() -> Any:
    """The answer to an ApiVersions request of a version this broker does not serve."""
    return ApiVersionsResponse(error_code=int(ErrorCode.UNSUPPORTED_VERSION), api_keys=_table())


async def handle(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply:
    return Reply(ApiVersionsResponse(error_code=0, api_keys=_table()))
