"""One broker process's parts wired together: listeners, logs, replicas, coord, metadata,
controller, fetchers.

Listeners are Kafka's (`broker.security.listeners`): each bound socket serves one listener
with its security protocol (TLS during the accept, SASL in the connection); the registration
advertises every listener's endpoint, and this broker dials the others on the inter-broker
listener. Start order matters: bind the listening sockets first (a port in use fails before any
state is touched, and a stale registration advertising our address provably belongs to
a dead process), open the log manager, connect to coord, register (the registration's
czxid is this run's broker epoch), contend for the controller role, then accept clients
(the controller's LeaderAndIsr requests, even to itself, arrive over the wire; its
channel retries until we accept). Stop
order is the reverse, preceded by a controlled shutdown (the controller moves our
leadership away first), and ends with every log flushed and closed so the next start
needs no recovery scan. A log directory that goes offline stops its replicas here and
is announced to the controller (which moves their leadership); when none is left the
broker sets `failed` and whoever runs it must stop it. This module must never contain
request logic.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import functools
import logging
import socket
import time
from collections.abc import Awaitable
from pathlib import Path

from broker.config import BrokerConfig, ConfigError
from broker.groups.manager import GroupManager
from broker.metadata.cache import MetadataCache
from broker.metadata.channel import ControllerChannel
from broker.metadata.controller import Controller
from broker.metadata.controller_requests import VERSIONS
from broker.metadata.isr_writer import IsrWriter
from broker.metadata.store import MetadataStore
from broker.metadata.znodes import Endpoint, broker_info
from broker.metrics import BrokerMetrics
from broker.replication.messages import ProposeIsr
from broker.security.authorizer import Authorizer
from broker.security.coord_link import coord_link
from broker.security.credentials import CoordCredentials
from broker.security.endpoint import ListenerRuntime, runtime_for
from broker.security.inter_broker import link_for
from broker.security.listeners import (
    ListenerError,
    advertised_listeners,
    bound_listeners,
    inter_broker_listener,
)
from broker.server.connection import Connection
from broker.server.connection_quotas import ConnectionQuotas, RequestBytes
from broker.server.dynamic_broker_config import DynamicBrokerConfig
from broker.server.fetch_wakeups import FetchWakeups
from broker.server.fetcher import FetcherManager
from broker.server.handlers import HANDLERS
from broker.server.handlers.common import BrokerContext
from broker.server.idempotence import ProducerStates
from broker.server.log_manager import LogManager
from broker.server.partition import Partition
from broker.server.replica_manager import ReplicaManager
from broker.server.to_controller import ControllerUnreachableError, ask_controller
from broker.server.topic_config_changes import TopicConfigChanges
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.scram import ScramCredential
from coord.client import ConnState, CoordClient
from coord.client.client import ensure_chroot
from coord.protocol.errors import CoordError

log = logging.getLogger(__name__)


class PortInUseError(OSError):
    """The port a server must listen on is taken; the message names it."""


TLS_HANDSHAKE_TIMEOUT_S = 10.0


async def listen(handler, host: str, port: int, what: str, ssl_context=None) -> asyncio.base_events.Server:
    """Bind host:port without accepting yet; a clear error if the port is taken."""
    tls = {"ssl": ssl_context, "ssl_handshake_timeout": TLS_HANDSHAKE_TIMEOUT_S} if ssl_context else {}
    try:
        return await asyncio.start_server(
            handler, host, port, start_serving=False, reuse_address=True, backlog=1024, **tls
        )
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                errno.EADDRINUSE,
                f"{what} port {port} on {host} is already in use; stop whatever listens there or choose another port",
            ) from None
        raise


STOP_WARN_S = 5.0


async def _watched(what: str, step: Awaitable[object]) -> None:
    """Await one stage of `Broker.stop`; if it takes longer than STOP_WARN_S, log what
    every task is waiting on (a stage that never ends would otherwise leave only a
    process killed by its supervisor, with no clue which part hung), then keep waiting."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=STOP_WARN_S)
    if not done:
        waiting = []
        for other in asyncio.all_tasks():
            frames = other.get_stack(limit=4)
            where = " <- ".join(
                f"{f.f_code.co_name} ({f.f_code.co_filename.rsplit('/', 1)[-1]}:{f.f_lineno})" for f in reversed(frames)
            )
            waiting.append(f"{other.get_name()}: {where}")
        log.warning(
            "stopping: %s not stopped after %.0f s; tasks waiting:\n  %s", what, STOP_WARN_S, "\n  ".join(waiting)
        )
    await task


class CoordUnavailableError(RuntimeError):
    """No coord server in the connect string answered; the message names them."""


class _LazyCredentials:
    """SCRAM lookups through the broker's coord session (which exists only once it started)."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    async def lookup(self, mechanism: str, user: str) -> ScramCredential | None:
        if self.broker.coord is None:
            return None
        return await CoordCredentials(self.broker.coord).lookup(mechanism, user)


class Broker:
    def __init__(self, config: BrokerConfig, metrics: BrokerMetrics | None = None) -> None:
        self.config = config
        self.metrics = metrics  # None: no metrics are kept
        self.cache = MetadataCache()
        self.wakeups = FetchWakeups()
        self.producer_states = ProducerStates()  # idempotence: producer tables, snapshotted after flushes
        self.logs = LogManager(
            config,
            changed=self.wakeups.notify,
            flushed=lambda logs, durable: self.producer_states.snapshot(logs, durable=durable),
            retention_pass=self.producer_states.expire,
            cleanable_offset=self._high_watermark,  # compaction stays below committed data
            on_dir_offline=self._log_dir_offline,
            flush_timed=metrics.log_flushed if metrics is not None else lambda _ms: None,
        )
        self.replicas = ReplicaManager(
            config,
            self.logs,
            self.cache,
            changed=self.wakeups.notify,
            propose_isr=self._propose_isr,
            leadership_listener=lambda: self.groups,
            followers_changed=lambda: self.fetchers.sync(),
        )
        self.fetchers = FetcherManager(config, self.cache, self.replicas)
        self.channel = ControllerChannel(
            self.cache,
            config.broker_id,
            request_timeout_ms=config.controller_socket_timeout_ms,
            local=self._local_request,
        )
        self.isr_writer: IsrWriter | None = None
        self.groups = GroupManager(
            config,
            self.cache,
            self.replicas,
            self.logs.appended,
            controller=lambda: self.ctx.controller if self.ctx is not None else None,
        )
        self.failed = asyncio.Event()  # every log directory failed: the broker must stop
        self.failure: str | None = None
        self._announcing: asyncio.Task | None = None
        self.coord: CoordClient | None = None
        self.store: MetadataStore | None = None
        self.config_changes: TopicConfigChanges | None = None
        self.ctx: BrokerContext | None = None
        self._servers: list[asyncio.base_events.Server] = []
        self.ports: dict[str, int] = {}  # listener name -> bound port
        self._connections: dict[asyncio.Task, Connection] = {}
        self._quotas = ConnectionQuotas(config)
        self._request_bytes = RequestBytes(config.queued_max_request_bytes)
        self._idle_reaper: asyncio.Task | None = None
        self._rejoin_task: asyncio.Task | None = None
        self._stopping = False
        self.port = config.port

    async def start(self) -> None:
        cfg = self.config
        try:
            bound = bound_listeners(cfg)
            inter = inter_broker_listener(cfg, bound)
            self.cache.inter_broker = link_for(cfg, inter)
            to_coord = coord_link(cfg)
        except ListenerError as exc:
            raise ConfigError(str(exc)) from None
        credentials = _LazyCredentials(self)
        for listener in bound:
            runtime = runtime_for(cfg, listener, listener.name == inter.name, credentials.lookup)
            server = await listen(
                functools.partial(self._accept, runtime),
                listener.host,
                listener.port,
                f"broker listener {listener.name}",
                runtime.ssl_context,
            )
            self._servers.append(server)
            self.ports[listener.name] = server.sockets[0].getsockname()[1]
        self.port = self.ports[bound[0].name]
        self.logs.start()
        self.replicas.start()
        coord_options = {"session_timeout": cfg.coord_session_timeout_ms / 1000, **to_coord.client_options()}
        self.coord = CoordClient(cfg.coord_connect, **coord_options)
        self.coord.add_listener(self._on_coord_state)
        try:
            await ensure_chroot(cfg.coord_connect, **coord_options)
            await self.coord.start()
        except CoordError as exc:
            self.coord = None
            raise CoordUnavailableError(
                f"cannot reach coord at {cfg.coord_connect} as {to_coord.identity}: {exc}"
            ) from None
        advertised = advertised_listeners(cfg, [dataclasses.replace(b, port=self.ports[b.name]) for b in bound])
        me = broker_info(cfg.broker_id, [Endpoint(a.name, a.host, a.port, a.protocol) for a in advertised], cfg.rack)
        self.store = MetadataStore(self.coord, self.cache, me)
        dynamic = DynamicBrokerConfig(self.coord, cfg)
        self.config_changes = TopicConfigChanges(self.coord, self.store, self.replicas, cfg, dynamic=dynamic)
        dynamic.on_change = self.config_changes.apply_all
        self.isr_writer = IsrWriter(self.coord, self.cache, cfg.broker_id)
        rebalance = cfg.leader_imbalance_check_interval_seconds if cfg.auto_leader_rebalance_enable else None
        controller = Controller(
            self.store, self.channel, unclean_default=cfg.unclean_leader_election_enable, rebalance_interval_s=rebalance
        )
        self.ctx = BrokerContext(
            cfg,
            self.cache,
            self.logs,
            self.replicas,
            controller,
            wakeups=self.wakeups,
            producer_states=self.producer_states,
            groups=self.groups,
            authorizer=Authorizer.from_config(cfg, self.coord),
            metrics=self.metrics,
            dynamic_config=dynamic,
        )
        await self._join()
        self._idle_reaper = asyncio.get_running_loop().create_task(self._close_idle(), name="idle-connections")
        for server in self._servers:
            await server.start_serving()
        log.info(
            "broker %d serving %s (inter-broker: %s; cluster %s), data in %s",
            cfg.broker_id,
            ", ".join(f"{b.name}://{b.host}:{self.ports[b.name]}" for b in bound),
            inter.name,
            self.cache.cluster_id,
            cfg.data_dir,
        )

    async def _join(self) -> None:
        """Register in coord and take up the controller role (at start, and after expiry)."""
        assert self.store is not None and self.ctx is not None
        await self.store.ensure_paths()
        await self.store.ensure_cluster_id()
        if self.ctx.authorizer is not None:  # (again after a session expiry: watches are gone)
            await self.ctx.authorizer.store.start()
        self.replicas.set_broker_epoch(await self.store.register())
        await self.ctx.controller.start()
        assert self.config_changes is not None
        await self.config_changes.start()  # after the store's reload: (re-)applies every topic's configs

    def _on_coord_state(self, state: ConnState) -> None:
        if self._stopping:
            return
        controller = self.ctx.controller if self.ctx is not None else None
        if state == ConnState.SUSPENDED:
            if self.cache.coord_suspended_at is None:
                self.cache.coord_suspended_at = time.monotonic()
            log.warning("coord connection suspended: metadata changes wait until it is back")
            if controller is not None:
                controller.suspend()
        elif state == ConnState.CONNECTED:
            self.cache.coord_suspended_at = None
            log.info("coord connection up")
            rejoining = self._rejoin_task is not None and not self._rejoin_task.done()
            if controller is not None and not rejoining:  # a new session: the rejoin re-contends
                controller.resume()
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
            except Exception as exc:  # noqa: BLE001 - coord still unreachable or mid-failover: try again
                log.warning("rejoining coord failed (%s); retrying in 1 s", exc)
                await asyncio.sleep(1)

    def _log_dir_offline(self, directory: Path, gone: list[tuple[str, int]]) -> None:
        """A log directory failed: its replicas stop here; the controller hears of it and
        leads them elsewhere. With no directory left the broker fails (Kafka halts)."""
        self.replicas.dir_offline(directory, gone)
        if not self.logs.dirs.online():
            self.failure = (
                f"broker {self.config.broker_id} has no log directory left: "
                f"{self.logs.dirs.describe_offline()}. It stops; their replicas on other brokers, "
                f"if any, take over. Replace or repair the disk, then start it again"
            )
            log.critical("%s", self.failure)
            self.failed.set()
            return
        if self._announcing is None or self._announcing.done():
            self._announcing = asyncio.get_running_loop().create_task(self._announce_log_dir_failure())

    async def _announce_log_dir_failure(self) -> None:
        """Write the log-dir event for the controller; retried every second while coord is away."""
        while not self._stopping:
            try:
                if self.store is None:  # still starting: the registration comes first
                    raise RuntimeError("not registered in coord yet")
                path = await self.store.announce_log_dir_failure()
                log.info("told the controller of the failed log directory (%s)", path)
                return
            except Exception as exc:  # noqa: BLE001 - coord unreachable for now: the controller must still hear it
                log.warning("cannot announce the failed log directory yet (%s); retrying in 1 s", exc)
                await asyncio.sleep(1)

    async def controlled_shutdown(self) -> bool:
        """Ask the controller to move our leadership away (Kafka's controlled shutdown);
        True once we lead nothing, False if it could not be done in the retries allowed."""
        cfg = self.config
        for attempt in range(cfg.controlled_shutdown_max_retries):
            if attempt:
                await asyncio.sleep(cfg.controlled_shutdown_retry_backoff_ms / 1000)
            request = m.ControlledShutdownRequest(broker_id=cfg.broker_id, broker_epoch=self.replicas.broker_epoch)
            try:
                response = await ask_controller(
                    self.cache,
                    cfg.broker_id,
                    ApiKey.CONTROLLED_SHUTDOWN,
                    request,
                    api_version=VERSIONS[ApiKey.CONTROLLED_SHUTDOWN],
                    timeout_ms=cfg.controller_socket_timeout_ms,
                )
            except ControllerUnreachableError as exc:
                log.warning("controlled shutdown: %s", exc)
                continue
            if response.error_code:
                log.warning(
                    "controlled shutdown refused by controller %d: %s",
                    self.cache.controller_id,
                    ErrorCode(response.error_code).name,
                )
                continue
            if not response.remaining_partitions:
                log.info("controlled shutdown: leadership moved away; stopping")
                return True
            log.info(
                "controlled shutdown: still leading %d partition(s) (no other in-sync replica)",
                len(response.remaining_partitions),
            )
        return False

    async def stop(self) -> None:
        """Controlled shutdown, stop accepting, drop connections, stop replication, flush and
        close every log, leave coord."""
        if (
            self.config.controlled_shutdown_enable
            and self.coord is not None
            and self.ctx is not None
            and not self._stopping
            and not self.failed.is_set()
            and len(self.cache.brokers) > 1
        ):
            await self.controlled_shutdown()
        self._stopping = True
        for task in (self._rejoin_task, self._announcing):
            if task is not None:
                task.cancel()
        if self.ctx is not None:
            await _watched("the controller", self.ctx.controller.close())
        await _watched("the replica fetchers", self.fetchers.close())
        await _watched("the controller channel", self.channel.close())
        for server in self._servers:
            server.close()
        if self._idle_reaper is not None:
            self._idle_reaper.cancel()
        for task in list(self._connections):
            task.cancel()
        await _watched("client connections", asyncio.gather(*self._connections, return_exceptions=True))
        await _watched("the group coordinators", self.groups.close())
        if self.isr_writer is not None:
            await _watched("the ISR writer", self.isr_writer.close())
        await _watched("the replicas", self.replicas.close())
        if self.config_changes is not None:
            await self.config_changes.close()
        if self.store is not None:
            await self.store.close()
        if self.ctx is not None and self.ctx.authorizer is not None:
            await self.ctx.authorizer.store.close()
        await self.logs.close()
        if self.coord is not None:
            await self.coord.stop()
        log.info(
            "broker %d stopped %s",
            self.config.broker_id,
            "after losing every log directory" if self.failed.is_set() else "cleanly",
        )

    async def _local_request(self, api_key: ApiKey, body: m.Message) -> m.Message:
        """A controller request from this very broker: encoded and decoded at the version
        that goes over the wire, handled by the same handler, its answer likewise."""
        assert self.ctx is not None
        version = VERSIONS[api_key]
        spec = m.API_BY_KEY[api_key]
        header = RequestHeader(int(api_key), version, 0, f"controller-{self.config.broker_id}")
        try:
            reply = await HANDLERS[api_key](self.ctx, header, spec.request.decode(body.encode(version), version))
            assert reply is not None, "controller requests always have a response"
            response = reply.body
        except Exception:
            log.exception("handling %s from this broker's own controller failed", ApiKey(api_key).name)
            response = spec.response(error_code=int(ErrorCode.UNKNOWN_SERVER_ERROR))
        return spec.response.decode(response.encode(version), version)

    @property
    def connections(self) -> list[Connection]:
        return list(self._connections.values())

    def _propose_isr(self, part: Partition, proposal: ProposeIsr) -> None:
        """Count (with metrics on) an ISR shrink or expand this leader proposes, then write it."""
        assert self.isr_writer is not None, "the ISR writer exists (start) before any order arrives"
        if self.metrics is not None:
            self.metrics.isr_changed(len(part.isr), len(proposal.isr))
        self.isr_writer.propose(part, proposal)

    def _high_watermark(self, topic: str, partition: int) -> int | None:
        part = self.replicas.partitions.get((topic, partition))
        return None if part is None else part.high_watermark

    async def _close_idle(self) -> None:
        """connections.max.idle.ms: close connections where nothing moved for that long."""
        max_idle = self.config.connections_max_idle_ms / 1000
        while True:
            await asyncio.sleep(min(max_idle / 4, 30.0))
            now = time.monotonic()
            for task, conn in list(self._connections.items()):
                if conn.idle_for(now) >= max_idle:
                    log.info(
                        "closing connection from %s: idle for more than %d ms",
                        conn.peer,
                        self.config.connections_max_idle_ms,
                    )
                    task.cancel()

    async def _accept(
        self, listener: ListenerRuntime, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        assert self.ctx is not None
        ip = str((writer.get_extra_info("peername") or ("?",))[0])
        refusal = self._quotas.admit(ip)
        if refusal is not None:
            log.info("rejected connection from %s: %s", ip, refusal)
            writer.transport.abort()
            return
        sock = writer.get_extra_info("socket")
        if sock is not None:  # a peer that vanished (power cut, cable) is found and closed
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        conn = Connection(self.ctx, reader, writer, listener, self._request_bytes)
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = conn
        try:
            await conn.run()
        except asyncio.CancelledError:
            # Stopping cancels every connection; ending normally keeps asyncio's stream
            # callback from logging the cancellation as an error.
            pass
        finally:
            self._connections.pop(task, None)
            self._quotas.release(ip)
