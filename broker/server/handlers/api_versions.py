"""ApiVersions: which API keys and versions this broker speaks."""

from __future__ import annotations

from client.protocol.api import SUPPORTED_VERSIONS

from broker.server.handlers.common import BrokerContext, Reply


def table() -> dict:
    return {"api_versions": [[int(k), lo, hi] for k, (lo, hi) in sorted(SUPPORTED_VERSIONS.items())]}


async def handle(ctx: BrokerContext, body: dict) -> Reply:
    return Reply({"error": 0, **table()})
