"""`pybroker broker start`: one broker of a cluster, with coord running elsewhere.

It must never start a coord server: the ensemble is given with --coord.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from broker.cli.start import DataDirInUseError, first_of, lock_data_dir
from broker.config import WILDCARDS, BrokerConfig, ConfigError, load_config, parse_address
from broker.console.server import HttpEndpoint
from broker.log import OldRecordFormatError
from broker.log.errors import LogDirOfflineError, LogDirsConflictError
from broker.metrics import BrokerMetrics
from broker.server.broker import Broker, CoordUnavailableError, PortInUseError
from coord.cli import port_number
from coord.service import run_until_signal


async def serve_broker(stop: asyncio.Event, config: BrokerConfig, metrics_port: int | None = None) -> int:
    broker = Broker(config, BrokerMetrics() if metrics_port is not None else None)
    endpoint = HttpEndpoint(broker, config.host, metrics_port) if metrics_port is not None else None
    if endpoint is not None:
        await endpoint.start()  # before any state is touched: a taken port fails first
    try:
        await broker.start()
        dirs = ", ".join(str(Path(d).resolve()) for d in config.log_directories())  # noqa: ASYNC240 - once, at start
        print(
            f"broker {config.broker_id} listening on {config.host}:{broker.port}, coord {config.coord_connect}, "
            f"data in {dirs}" + (f", metrics and console on {endpoint.url}" if endpoint is not None else ""),
            flush=True,
        )
        await first_of(stop.wait(), broker.failed.wait())
    finally:
        if endpoint is not None:
            await endpoint.stop()
        await broker.stop()
    if broker.failure is not None:
        print(f"pybroker broker start: error: {broker.failure}", file=sys.stderr)
        return 1
    return 0


def parse_listener(
    value: str | None, host: str | None, port: int | None, advertise: str | None = None
) -> dict[str, object]:
    """Config overrides from --listen HOST:PORT (or --host/--port) and --advertise HOST:PORT.

    The registered address is what clients and other brokers dial, so a wildcard bind
    (0.0.0.0) needs --advertise to name a reachable address."""
    out: dict[str, object] = {"host": host, "port": port}
    if value is not None:
        if host is not None or port is not None:
            raise ConfigError("give either --listen HOST:PORT or --host/--port, not both")
        out["host"], out["port"] = parse_address(value, "--listen")
    if advertise is not None:
        out["advertised_host"], out["advertised_port"] = parse_address(advertise, "--advertise")
        if out["advertised_host"] in WILDCARDS:
            raise ConfigError(f"--advertise {advertise!r}: clients cannot connect to a wildcard address")
    elif out["host"] in WILDCARDS:
        raise ConfigError(
            f"listening on {out['host']} needs --advertise HOST:PORT: the broker registers an "
            f"address for clients and peers, and nobody can connect to a wildcard"
        )
    return out


def run(args: argparse.Namespace) -> int:
    try:
        listener = parse_listener(args.listen, args.host, args.port, args.advertise)
        config = load_config(
            args.config, broker_id=args.id, data_dir=args.data_dir, coord_connect=args.coord, rack=args.rack, **listener
        )
        with lock_data_dir(Path(config.data_dir)):
            return run_until_signal(lambda stop: serve_broker(stop, config, args.metrics_port))
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
            f"pybroker broker start: error: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}",
            file=sys.stderr,
        )
        return 1


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("broker", help="run one broker of a cluster")
    sub = group.add_subparsers(dest="broker_command", metavar="ACTION")
    p = sub.add_parser("start", help="start a broker that uses an existing coord ensemble")
    p.add_argument("--id", type=int, default=None, help="broker id (default 1)")
    p.add_argument("--data-dir", type=Path, default=None, help="partition logs directory")
    p.add_argument("--port", type=port_number, default=None, help="listen port on --host (default 9092)")
    p.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    p.add_argument(
        "--listen",
        default=None,
        metavar="HOST:PORT",
        help="Kafka's listeners, as --host and --port in one; unless --advertise is given, HOST is "
        "also the address the broker registers for clients and peers",
    )
    p.add_argument(
        "--advertise",
        default=None,
        metavar="HOST:PORT",
        help="Kafka's advertised.listeners: the address registered for clients and other brokers "
        "(behind NAT, a proxy, or with --listen 0.0.0.0:PORT)",
    )
    p.add_argument(
        "--rack", default=None, help="this broker's rack (broker.rack): replicas of a partition are spread over racks"
    )
    p.add_argument("--coord", default=None, help="coord servers host:port,... (default 127.0.0.1:2181)")
    p.add_argument("--config", type=Path, default=None, help="TOML file of broker settings (Kafka names)")
    p.add_argument(
        "--metrics-port",
        type=port_number,
        default=None,
        help="serve Prometheus /metrics and the web console on this port of --host (default: off; 0 picks a free port)",
    )
    p.set_defaults(func=run)
    group.set_defaults(func=lambda args: (group.print_help(), 2)[1])
