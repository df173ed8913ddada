"""`pybroker broker start`: one broker of a cluster, with coord running elsewhere.

It must never start a coord server: the ensemble is given with --coord.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from broker.cli.runner import run_until_signal
from broker.cli.start import DataDirInUseError, lock_data_dir
from broker.config import BrokerConfig, ConfigError, load_config
from broker.server.broker import Broker, CoordUnavailableError, PortInUseError


async def serve_broker(stop: asyncio.Event, config: BrokerConfig) -> int:
    broker = Broker(config)
    try:
        await broker.start()
        print(f"broker {config.broker_id} listening on {config.host}:{broker.port}, coord {config.coord_connect}, "
              f"data in {Path(config.data_dir).resolve()}", flush=True)
        await stop.wait()
    finally:
        await broker.stop()
    return 0


def parse_listener(value: str | None, host: str | None, port: int | None) -> tuple[str | None, int | None]:
    """(host, port) from --listen HOST:PORT (Kafka's `PLAINTEXT://HOST:PORT` accepted) or --host/--port."""
    if value is None:
        return host, port
    if host is not None or port is not None:
        raise ConfigError("give either --listen HOST:PORT or --host/--port, not both")
    address = value.removeprefix("PLAINTEXT://")
    listen_host, sep, listen_port = address.rpartition(":")
    if not sep or not listen_host or not listen_port.isdigit() or not 0 < int(listen_port) < 65536:
        raise ConfigError(f"--listen {value!r}: expected HOST:PORT, e.g. 10.0.0.1:9092")
    if listen_host in ("0.0.0.0", "::", "[::]"):
        raise ConfigError(f"--listen {value!r}: the broker registers its listen address for clients and peers, "
                          f"and nobody can connect to a wildcard; give this machine's own address")
    return listen_host, int(listen_port)


def run(args: argparse.Namespace) -> int:
    try:
        host, port = parse_listener(args.listen, args.host, args.port)
        config = load_config(args.config, broker_id=args.id, port=port, data_dir=args.data_dir,
                             coord_connect=args.coord, host=host, rack=args.rack)
        with lock_data_dir(Path(config.data_dir)):
            return run_until_signal(lambda stop: serve_broker(stop, config))
    except (ConfigError, PortInUseError, DataDirInUseError, CoordUnavailableError) as exc:
        print(f"pybroker broker start: error: {exc.strerror if isinstance(exc, OSError) else exc}", file=sys.stderr)
        return 1


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("broker", help="run one broker of a cluster")
    sub = group.add_subparsers(dest="broker_command", metavar="ACTION")
    p = sub.add_parser("start", help="start a broker that uses an existing coord ensemble")
    p.add_argument("--id", type=int, default=None, help="broker id (default 1)")
    p.add_argument("--data-dir", type=Path, default=None, help="partition logs directory")
    p.add_argument("--port", type=int, default=None, help="listen port on --host (default 9092)")
    p.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    p.add_argument("--listen", default=None, metavar="HOST:PORT",
                   help="Kafka's listeners, as --host and --port in one; HOST is also the address the broker "
                        "registers for clients and peers, so give one they can reach (not 0.0.0.0)")
    p.add_argument("--rack", default=None, help="this broker's rack (broker.rack): replicas of a partition "
                   "are spread over racks")
    p.add_argument("--coord", default=None, help="coord servers host:port,... (default 127.0.0.1:2181)")
    p.add_argument("--config", type=Path, default=None, help="TOML file of broker settings (Kafka names)")
    p.set_defaults(func=run)
    group.set_defaults(func=lambda args: (group.print_help(), 2)[1])
