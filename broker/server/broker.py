"""One broker process's parts wired together: listener, logs, coord, metadata, controller.

Start order matters: bind the listening socket first (a port in use fails before any
state is touched, and a stale registration advertising our address provably belongs to
a dead process), open the log manager, connect to coord, register, take the controller
role and lead the partitions, then accept clients. Stop order is the reverse, and ends
with every log flushed and closed so the next start needs no recovery scan. This module
must never contain request logic.
"""

from __future__ import annotations

import asyncio
import errno
import logging

from coord.client import ConnState, CoordClient
from coord.protocol.errors import CoordError

from broker.config import BrokerConfig
from broker.groups.manager import GroupManager
from broker.metadata.cache import MetadataCache
from broker.metadata.controller import Controller
from broker.metadata.store import MetadataStore
from broker.metadata.znodes import BrokerInfo
from broker.server.connection import Connection
from broker.server.handlers.common import BrokerContext
from broker.server.log_manager import LogManager
from broker.server.replica_manager import ReplicaManager

log = logging.getLogger(__name__)


class PortInUseError(OSError):
    """The port a server must listen on is taken; the message names it."""


async def listen(handler, host: str, port: int, what: str) -> asyncio.base_events.Server:
    """Bind host:port without accepting yet; a clear error if the port is taken."""
    try:
        return await asyncio.start_server(handler, host, port, start_serving=False,
                                          reuse_address=True, backlog=1024)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(errno.EADDRINUSE, f"{what} port {port} on {host} is already in use; "
                                 "stop whatever listens there or choose another port") from None
        raise


class CoordUnavailableError(RuntimeError):
    """No coord server in the connect string answered; the message names them."""


class Broker:
    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.cache = MetadataCache()
        self.logs = LogManager(config)
        self.replicas = ReplicaManager(config.broker_id, self.logs, self.cache)
        self.groups = GroupManager(config, self.cache, self.replicas, self.logs.appended)
        self.replicas.leadership_listener = self.groups
        self.coord: CoordClient | None = None
        self.store: MetadataStore | None = None
        self.ctx: BrokerContext | None = None
        self._server: asyncio.base_events.Server | None = None
        self._connections: dict[asyncio.Task, Connection] = {}
        self._rejoin_task: asyncio.Task | None = None
        self._stopping = False
        self.port = config.port

    async def start(self) -> None:
        cfg = self.config
        self._server = await listen(self._accept, cfg.host, cfg.port, "broker")
        self.port = self._server.sockets[0].getsockname()[1]
        self.logs.start()
        self.coord = CoordClient(cfg.coord_connect, session_timeout=cfg.coord_session_timeout_ms / 1000)
        self.coord.add_listener(self._on_coord_state)
        try:
            await self.coord.start()
        except CoordError as exc:
            self.coord = None
            raise CoordUnavailableError(f"cannot reach coord at {cfg.coord_connect}: {exc}") from None
        me = BrokerInfo(cfg.broker_id, cfg.host, self.port, cfg.rack)
        self.store = MetadataStore(self.coord, self.cache, me)
        controller = Controller(self.store, self.replicas)
        self.ctx = BrokerContext(cfg, self.cache, self.logs, self.replicas, controller, groups=self.groups)
        self.groups.controller = controller
        await self._join()
        await self._server.start_serving()
        log.info("broker %d serving on %s:%d (cluster %s), data in %s", cfg.broker_id, cfg.host,
                 self.port, self.cache.cluster_id, cfg.data_dir)

    async def _join(self) -> None:
        """Register in coord and take up the controller role (at start, and after expiry)."""
        assert self.store is not None and self.ctx is not None
        await self.store.ensure_paths()
        await self.store.ensure_cluster_id()
        await self.store.register()
        await self.ctx.controller.start()

    def _on_coord_state(self, state: ConnState) -> None:
        if self._stopping:
            return
        if state == ConnState.SUSPENDED:
            log.warning("coord connection suspended: metadata changes wait until it is back")
        elif state == ConnState.CONNECTED:
            log.info("coord connection up")
        elif state == ConnState.LOST and (self._rejoin_task is None or self._rejoin_task.done()):
            log.warning("coord session expired: registration and watches are gone; rejoining with a new session")
            self._rejoin_task = asyncio.get_running_loop().create_task(self._rejoin())

    async def _rejoin(self) -> None:
        """New session, register again, re-elect; retried every second until it works or we stop."""
        assert self.coord is not None
        while not self._stopping:
            try:
                await self.coord.start()
                await self._join()
                log.info("broker %d rejoined coord with a new session", self.config.broker_id)
                return
            except Exception as exc:  # coord still unreachable or mid-failover: try again
                log.warning("rejoining coord failed (%s); retrying in 1 s", exc)
                await asyncio.sleep(1)

    async def stop(self) -> None:
        """Stop accepting, drop connections, flush and close every log, leave coord."""
        self._stopping = True
        if self._rejoin_task is not None:
            self._rejoin_task.cancel()
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self.groups.close()
        if self.store is not None:
            await self.store.close()
        await self.logs.close()
        if self.coord is not None:
            await self.coord.stop()
        log.info("broker %d stopped cleanly", self.config.broker_id)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self.ctx is not None
        conn = Connection(self.ctx, reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = conn
        try:
            await conn.run()
        finally:
            self._connections.pop(task, None)
