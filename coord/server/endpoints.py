"""The HTTP ports of one coord server: Prometheus' `/metrics` and ZooKeeper's AdminServer.

As in ZooKeeper they are two ports, each off unless configured: `metrics_port`
(zoo.cfg's `metricsProvider.httpPort`) serves `GET /metrics`; `admin_port`
(`admin.serverPort`) serves `GET /commands` (links) and `GET /commands/<name>` (JSON).
Both run on the server's event loop with aiohttp, so a scrape reads the server between
two of its steps, never half-way through one.

This module only serves what `metrics` and `admin` render: it must never change server
state itself, and never bind a port the configuration did not ask for.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from coord.server import admin
from coord.server import serverinfo as info
from coord.server.clock import mono_ms
from coord.server.metrics import exposition, registry_for

log = logging.getLogger("coord.server.endpoints")


def metrics_app(src: info.Source) -> web.Application:
    registry = registry_for(src)

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=exposition(registry), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return app


def admin_app(src: info.Source) -> web.Application:
    async def links(_request: web.Request) -> web.Response:
        return web.Response(text=admin.command_links(), content_type="text/html")

    async def command(request: web.Request) -> web.Response:
        body = admin.run_command(request.match_info["name"], src, mono_ms())
        return web.Response(text=json.dumps(body, indent=2, default=str), content_type="application/json")

    app = web.Application()
    app.router.add_get("/commands", links)
    app.router.add_get("/commands/", links)
    app.router.add_get("/commands/{name}", command)
    return app


class Endpoints:
    """The configured HTTP ports of `src`; `start()` binds them, `stop()` closes them.
    `metrics_port` / `admin_port` hold the bound ports (None when off)."""

    def __init__(self, src: info.Source) -> None:
        self.src = src
        self._runners: list[web.AppRunner] = []
        self.metrics_port: int | None = None
        self.admin_port: int | None = None

    async def start(self) -> None:
        c = self.src.config
        if c.metrics_port is not None:
            self.metrics_port = await self._serve(
                metrics_app(self.src), c.metrics_host or c.host, c.metrics_port, "Prometheus metrics", "/metrics"
            )
        if c.admin_port is not None:
            self.admin_port = await self._serve(
                admin_app(self.src), c.admin_host or c.host, c.admin_port, "AdminServer", "/commands"
            )

    async def _serve(self, app: web.Application, host: str, port: int, what: str, path: str) -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        bound = runner.addresses[-1][1]
        log.info("%s on http://%s:%d%s", what, host, bound, path)
        return bound

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
