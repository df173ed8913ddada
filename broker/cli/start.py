"""`pybroker start`: one node with everything embedded, for trying pybroker in one command.

Runs a standalone coord server and one broker in the same event loop, data under
./pybroker-data (coord in `coord/`, partition logs in `logs/`), broker on
127.0.0.1:9092 and coord on 127.0.0.1:2181. Ctrl-C / SIGTERM stop it cleanly (flush,
close, recovery point). If the embedded coord fails (it cannot write its txn log) the
whole node stops with a message and exit code 1. It must never start anything before it
knows both ports are free and the data directory is not used by another running node,
and never keep a broker serving on a coord that has stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path

from broker import __version__
from broker.config import BrokerConfig, ConfigError, load_config
from broker.console.server import HttpEndpoint
from broker.log import OldRecordFormatError
from broker.log.errors import LogDirOfflineError, LogDirsConflictError
from broker.metrics import BrokerMetrics
from broker.server.broker import Broker, CoordUnavailableError, PortInUseError, listen
from coord.cli import port_number
from coord.server.config import ServerConfig
from coord.server.server import CoordServer
from coord.service import DataDirInUseError, lock_data_dir, run_until_signal

DEFAULT_COORD_PORT = 2181
DEFAULT_METRICS_PORT = 9404


async def check_ports_free(host: str, ports: list[tuple[str, int]]) -> None:
    """Fail with PortInUseError naming the first taken port, before anything starts."""
    for what, port in ports:
        server = await listen(lambda r, w: None, host, port, what)
        server.close()
        await server.wait_closed()


def banner(broker_port: int, coord_port: int, data_dir: Path, metrics_url: str | None = None) -> str:
    return "\n".join(
        [
            f"pybroker {__version__} is running (one node: coord + broker)",
            f'  broker  127.0.0.1:{broker_port}   clients: bootstrap_servers="127.0.0.1:{broker_port}"',
            f"  coord   127.0.0.1:{coord_port}   ZooKeeper protocol: zkCli.sh -server 127.0.0.1:{coord_port}",
            *([f"  console {metrics_url}   Prometheus: {metrics_url}metrics"] if metrics_url else []),
            f"  data    {data_dir.resolve()}",
            "Try:",
            f"  pybroker topics create demo --partitions 3 --bootstrap 127.0.0.1:{broker_port}",
            f"  echo hello | pybroker produce demo --bootstrap 127.0.0.1:{broker_port}",
            f"  pybroker consume demo --from-beginning --bootstrap 127.0.0.1:{broker_port}",
            "Stop with Ctrl-C.",
        ]
    )


async def serve_node(
    stop: asyncio.Event, config: BrokerConfig, data_dir: Path, coord_port: int, metrics_port: int | None = None
) -> int:
    """`metrics_port` None: DEFAULT_METRICS_PORT, or a free one if that is taken (it is
    printed either way); a port given explicitly must be free."""
    await check_ports_free(config.host, [("coord", coord_port), ("broker", config.port)])
    if metrics_port is None:
        try:
            await check_ports_free(config.host, [("metrics", DEFAULT_METRICS_PORT)])
            metrics_port = DEFAULT_METRICS_PORT
        except PortInUseError:
            metrics_port = 0
    else:
        await check_ports_free(config.host, [("metrics", metrics_port)])
    coord = CoordServer(
        ServerConfig(server_id=1, data_dir=data_dir / "coord", host=config.host, client_port=coord_port)
    )
    await coord.start()
    broker = Broker(config, BrokerMetrics())
    endpoint = HttpEndpoint(broker, config.host, metrics_port)
    try:
        await endpoint.start()
        await broker.start()
        print(banner(broker.port, coord.port, data_dir, endpoint.url), flush=True)
        await first_of(stop.wait(), coord.failed.wait(), broker.failed.wait())
    finally:
        await endpoint.stop()
        await broker.stop()
        await coord.stop()
    if broker.failure is not None:
        print(f"pybroker start: error: {broker.failure}", file=sys.stderr)
        return 1
    if coord.failed.is_set():
        print(
            f"pybroker start: error: the embedded coord server stopped because it cannot write "
            f"its txn log under {data_dir / 'coord'} (see the log above); the broker was stopped "
            f"too. Fix the disk, then start again: nothing acknowledged is lost",
            file=sys.stderr,
        )
        return 1
    return 0


async def first_of(*waits: Coroutine[object, object, object]) -> None:
    """Return once the first of `waits` is done; cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def node_config(args: argparse.Namespace) -> tuple[BrokerConfig, Path, int]:
    """Broker settings, the node's data dir and the coord port: flags over file over defaults."""
    base = load_config(args.config)
    data_dir = args.data_dir or base.data_dir
    coord_port = args.coord_port or DEFAULT_COORD_PORT
    config = base.with_overrides(
        port=args.broker_port, data_dir=data_dir / "logs", coord_connect=f"{base.host}:{coord_port}"
    )
    return config, data_dir, coord_port


def run(args: argparse.Namespace) -> int:
    try:
        config, data_dir, coord_port = node_config(args)
        with lock_data_dir(data_dir):
            return run_until_signal(lambda stop: serve_node(stop, config, data_dir, coord_port, args.metrics_port))
    except (
        ConfigError,
        PortInUseError,
        DataDirInUseError,
        CoordUnavailableError,
        OldRecordFormatError,
        LogDirOfflineError,
        LogDirsConflictError,
    ) as exc:
        print(
            f"pybroker start: error: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}",
            file=sys.stderr,
        )
        return 1


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "start",
        help="run one node with everything embedded (coord + broker)",
        description="Run a standalone coord server and one broker in one process.",
    )
    p.add_argument("--data-dir", type=Path, default=None, help="where data lives (default ./pybroker-data)")
    p.add_argument("--broker-port", type=port_number, default=None, help="broker port on 127.0.0.1 (default 9092)")
    p.add_argument(
        "--coord-port", type=port_number, default=None, help=f"coord port on 127.0.0.1 (default {DEFAULT_COORD_PORT})"
    )
    p.add_argument(
        "--metrics-port",
        type=port_number,
        default=None,
        help=f"Prometheus /metrics and web console port on 127.0.0.1 (default {DEFAULT_METRICS_PORT}, "
        "or a free port if that one is taken; printed at start)",
    )
    p.add_argument("--config", type=Path, default=None, help="TOML file of broker settings (Kafka names)")
    p.set_defaults(func=run)
