"""The broker's HTTP port (`--metrics-port`): `/metrics`, `/api/cluster` and the console page.

An aiohttp server in the broker's own event loop: `/metrics` is Prometheus' text format
from the broker's registry (the hot-path instruments plus the scrape-time collector),
`/api/cluster` the console's JSON snapshot, `/` and `/static/` the page's files from the
package. Every route is a GET; this module must never accept a request that changes
anything, and never serve files from outside broker/console/static.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from broker.console.snapshot import CoordModes, snapshot
from broker.metrics.collector import BrokerStateCollector
from broker.server.broker import PortInUseError

STATIC = Path(__file__).parent / "static"


class HttpEndpoint:
    """Serves one broker's metrics and console on host:port until `stop`."""

    def __init__(self, broker: Any, host: str, port: int) -> None:
        assert broker.metrics is not None, "the HTTP port serves a broker built with metrics"
        self.broker = broker
        self.host = host
        self.port = port
        self._coord = CoordModes(broker.config.coord_connect)
        self._runner: web.AppRunner | None = None
        broker.metrics.registry.register(BrokerStateCollector(broker))

    async def start(self) -> None:
        app = web.Application()
        app.add_routes(
            [
                web.get("/metrics", self._metrics),
                web.get("/api/cluster", self._cluster),
                web.get("/", self._index),
                web.static("/static", STATIC),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    errno.EADDRINUSE,
                    f"metrics port {self.port} on {self.host} is already in use; "
                    "stop whatever listens there or choose another --metrics-port",
                ) from None
            raise
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # port 0: the one chosen

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    async def _metrics(self, request: web.Request) -> web.Response:
        body = self.broker.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _cluster(self, request: web.Request) -> web.Response:
        # Any origin may read it: the page of one broker falls back to another's when its own dies.
        return web.json_response(
            await snapshot(self.broker, self._coord),
            headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"},
        )

    async def _index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})
