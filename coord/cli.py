"""coord's command line: `python -m coord ...`, also reachable as `pybroker coord ...`.

`start` runs one server until Ctrl-C / SIGTERM (through `coord.service`, which gives every
long-running command the same clean stop). `ls|get|stat|create|delete|set` are one-shot
client calls made with `coord.client.CoordClient`; `shell` reads such lines from stdin.
coord stands on its own: this module imports nothing of the broker's, and the broker's
`pybroker coord` only mounts these same subcommands under its own parser.

The server and the client are imported inside the commands that use them, so `pybroker`
(which mounts this parser) and a one-shot `ls` start without loading the server; no import
cycle is behind it (tests/coord_server/test_import_graph.py counts these imports too).

This module only parses flags and prints; it must never hold server or protocol logic.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from coord.service import DataDirInUseError, lock_data_dir, run_until_signal

log = logging.getLogger("coord")


def port_number(text: str) -> int:
    """argparse type of a port flag: 0..65535 (0: any free port), refused by argparse with
    a usage error otherwise (not an OverflowError traceback from bind() at start)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0..65535)")
    return port


def build_parser(prog: str = "python -m coord") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="coord: a ZooKeeper-compatible coordination service.")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging verbosity (default INFO)",
    )
    add_commands(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args) or 0)


def add_commands(coord: argparse.ArgumentParser) -> None:
    """The subcommands, on `coord`'s own parser or on the `pybroker coord` group."""
    sub = coord.add_subparsers(dest="coord_command", metavar="SUBCOMMAND")

    def usage(args: argparse.Namespace) -> int:  # no subcommand: say what there is, and fail
        coord.print_help()
        return 2

    coord.set_defaults(func=usage)

    start = sub.add_parser("start", help="run one coord server until Ctrl-C")
    start.add_argument("--id", type=int, default=None, help="server id, 0..254 (default 1)")
    start.add_argument("--data-dir", type=Path, default=None, help="txn log and snapshots")
    start.add_argument("--client-port", type=port_number, default=None, help="default 2181")
    start.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    start.add_argument("--tick-ms", type=int, default=None, help="tickTime in ms (default 2000)")
    start.add_argument("--snap-count", type=int, default=None, help="txns between snapshots (default 10000)")
    start.add_argument(
        "--container-check-ms", type=int, default=None, help="container / TTL cleanup period (default 60000)"
    )
    start.add_argument(
        "--peers",
        default=None,
        help="the ensemble, as ZooKeeper's server.N lines: 1=host:quorumPort:electionPort,2=... (default: standalone)",
    )
    start.add_argument(
        "--init-limit", type=int, default=None, help="ticks a member may take to join the leader (default 10)"
    )
    start.add_argument(
        "--sync-limit",
        type=int,
        default=None,
        help="ticks of silence before a member gives up on the leader (default 5)",
    )
    start.add_argument(
        "--metrics-port",
        type=port_number,
        default=None,
        help="serve Prometheus metrics at http://HOST:PORT/metrics, named as "
        "ZooKeeper's (zoo.cfg metricsProvider.httpPort; default off)",
    )
    start.add_argument(
        "--admin-port",
        type=port_number,
        default=None,
        help="serve ZooKeeper's AdminServer JSON at http://HOST:PORT/commands (zoo.cfg admin.serverPort; default off)",
    )
    start.add_argument(
        "-D",
        dest="security",
        action="append",
        default=None,
        metavar="NAME=VALUE",
        help="a ZooKeeper security setting by its own name, e.g. "
        "-D secureClientPort=2281 -D ssl.keyStore.location=server.pem "
        "(see docs/operations.md, coord security); repeatable",
    )
    start.add_argument(
        "--jaas-config", type=Path, default=None, help="JAAS file with the SASL users (java.security.auth.login.config)"
    )
    start.add_argument("--config", type=Path, default=None, help="TOML file with the same keys")
    start.set_defaults(func=_start)

    def client_security_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "-D",
            dest="client_security",
            action="append",
            default=None,
            metavar="NAME=VALUE",
            help="a ZooKeeper client security property, as zkCli's -D: "
            "zookeeper.client.secure=true, zookeeper.ssl.trustStore.location=ca.pem, "
            "zookeeper.ssl.keyStore.location=me.pem, ... (see docs/operations.md); repeatable",
        )
        p.add_argument(
            "--jaas-config",
            dest="client_jaas",
            type=Path,
            default=None,
            help="JAAS file whose Client section logs in with SASL DIGEST-MD5 (java.security.auth.login.config)",
        )

    def client_cmd(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("path")
        p.add_argument("--server", default="127.0.0.1:2181", help="host:port[,host:port...]")
        client_security_flags(p)
        return p

    client_cmd("ls", "list the children of a znode").set_defaults(func=_client, op="ls")
    client_cmd("get", "print a znode's data").set_defaults(func=_client, op="get")
    client_cmd("stat", "print a znode's Stat").set_defaults(func=_client, op="stat")
    p = client_cmd("create", "create a znode")
    p.add_argument("data", nargs="?", default="")
    p.add_argument("-e", "--ephemeral", action="store_true")
    p.add_argument("-s", "--sequence", action="store_true")
    p.set_defaults(func=_client, op="create")
    p = client_cmd("set", "set a znode's data")
    p.add_argument("data")
    p.add_argument("-v", "--version", type=int, default=-1)
    p.set_defaults(func=_client, op="set")
    p = client_cmd("delete", "delete a znode")
    p.add_argument("-v", "--version", type=int, default=-1)
    p.add_argument("-r", "--recursive", action="store_true")
    p.set_defaults(func=_client, op="delete")
    shell = sub.add_parser("shell", help="read ls/get/stat/create/set/delete lines from stdin")
    shell.add_argument("--server", default="127.0.0.1:2181", help="host:port[,host:port...]")
    client_security_flags(shell)
    shell.set_defaults(func=_shell)


def _client_options(args: argparse.Namespace) -> dict:
    """CoordClient's TLS and SASL options from -D and --jaas-config (SecurityConfigError if
    they cannot work)."""
    from coord.security.client_settings import client_security
    from coord.security.settings import SecurityConfigError

    props: dict[str, str] = {}
    for item in args.client_security or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SecurityConfigError(f"-D takes NAME=VALUE, not {item!r}")
        props[name.strip()] = value.strip()
    if args.client_jaas is not None:
        props["java.security.auth.login.config"] = str(args.client_jaas)
    return client_security(props).options()


def _start(args: argparse.Namespace) -> int:
    from coord.server.config import ConfigError, ServerConfig
    from coord.server.ensemble import EnsembleServer
    from coord.server.server import CoordServer
    from coord.server.snapshot import SnapshotCorruptionError
    from coord.server.txnlog import TxnLogCorruptionError

    overrides = {
        "server_id": args.id,
        "data_dir": args.data_dir,
        "client_port": args.client_port,
        "host": args.host,
        "tick_ms": args.tick_ms,
        "snap_count": args.snap_count,
        "container_check_ms": args.container_check_ms,
        "peers": args.peers,
        "init_limit": args.init_limit,
        "sync_limit": args.sync_limit,
        "metrics_port": args.metrics_port,
        "admin_port": args.admin_port,
        "jaas_config": args.jaas_config,
    }
    if args.security:
        pairs = [item.partition("=") for item in args.security]
        bad = [name for name, sep, _ in pairs if not sep or not name]
        if bad:
            print(f"coord start: -D takes NAME=VALUE, not {bad[0]!r}", file=sys.stderr)
            return 2
        overrides["security"] = {name.strip(): value.strip() for name, _, value in pairs}
    try:
        if args.config is not None:
            config = ServerConfig.from_toml(args.config, **overrides)
        else:
            config = ServerConfig(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as e:
        print(f"coord start: {e}", file=sys.stderr)
        return 2

    async def service(stop: asyncio.Event) -> int:
        server = EnsembleServer(config) if config.ensemble else CoordServer(config)
        try:
            await server.start()
        except (TxnLogCorruptionError, SnapshotCorruptionError) as e:
            log.error("%s", e)
            return 1
        except OSError as e:
            # the client port or one of the HTTP ports; the message names the address
            log.error("cannot listen (client port %s:%d): %s", config.host, config.client_port, e)
            return 1
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(server.failed.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        log.info("stopping")
        await server.stop()
        return 1 if server.failed.is_set() else 0

    try:
        with lock_data_dir(config.data_dir):  # two servers on one txn log would corrupt it
            return run_until_signal(service)
    except DataDirInUseError as e:
        print(f"coord start: error: {e}", file=sys.stderr)
        return 1


def _client(args: argparse.Namespace) -> int:
    from coord.client import CoordClient
    from coord.protocol.errors import CoordError
    from coord.security.settings import SecurityConfigError

    try:
        options = _client_options(args)
    except SecurityConfigError as e:
        print(f"{args.op}: {e}", file=sys.stderr)
        return 2

    async def run() -> int:
        client = CoordClient(args.server, session_timeout=10.0, **options)
        await client.start()
        try:
            return await _client_op(client, args)
        finally:
            await client.stop()

    try:
        return asyncio.run(run())
    except CoordError as e:
        print(_describe(args.op, args.path, e), file=sys.stderr)
        return 1
    except OSError as e:
        print(f"cannot reach {args.server}: {e}", file=sys.stderr)
        return 1


def _describe(op: str, path: str, error: Exception) -> str:
    """A failed command's message in CLI terms (the exception's own hint speaks of Python
    arguments such as makepath=True)."""
    from coord.protocol.errors import NoNodeError

    if isinstance(error, NoNodeError):
        if op == "create":
            return f"{op} {path}: the parent node does not exist (NONODE); create it first"
        return f"{op} {path}: Node does not exist: {path} (NONODE)"
    return f"{op} {path}: {error}"


SHELL_HELP = """commands (one per line; options as for `python -m coord <command>`):
  ls PATH                        list the children of a znode
  get PATH                       print a znode's data
  stat PATH                      print a znode's Stat
  create PATH [DATA] [-e] [-s]   create a znode (ephemeral, sequential)
  set PATH DATA [-v VERSION]     set a znode's data
  delete PATH [-v VERSION] [-r]  delete a znode (recursively)
  help                           this text
  quit | exit                    end the session
When reading a script (stdin not a terminal), the exit status is 1 if the last command failed."""
CLIENT_OPS = ("ls", "get", "stat", "create", "set", "delete")


async def _client_op(client, args: argparse.Namespace) -> int:
    if args.op == "ls":
        print("[" + ", ".join(sorted(await client.get_children(args.path))) + "]")
    elif args.op == "get":
        data, _ = await client.get(args.path)
        print("null" if data is None else data.decode("utf-8", "replace"))
    elif args.op == "stat":
        stat = await client.exists(args.path)
        if stat is None:
            print(f"Node does not exist: {args.path}", file=sys.stderr)
            return 1
        for name in stat._fields:
            value = getattr(stat, name)
            print(f"{name} = {hex(value) if name.endswith('zxid') or name == 'ephemeralOwner' else value}")
    elif args.op == "create":
        created = await client.create(args.path, args.data.encode(), ephemeral=args.ephemeral, sequence=args.sequence)
        print(f"Created {created}")
    elif args.op == "set":
        await client.set(args.path, args.data.encode(), version=args.version)
    elif args.op == "delete":
        await client.delete(args.path, version=args.version, recursive=args.recursive)
    return 0


def _shell(args: argparse.Namespace) -> int:
    """One session; each input line is a client command as on the command line."""
    import shlex

    from coord.client import CoordClient
    from coord.protocol.errors import CoordError

    parser = build_parser()
    parser.exit_on_error = False

    async def one(client: CoordClient, line: str) -> int:
        """Run one input line; its status (0 = ok)."""
        try:
            words = shlex.split(line)
        except ValueError as e:
            print(f"{line.strip()}: {e}", file=sys.stderr)
            return 1
        if not words:
            return 0
        if words[0] == "help":
            print(SHELL_HELP)
            return 0
        if words[0] not in CLIENT_OPS:
            print(f"unknown command: {words[0]}\n{SHELL_HELP}", file=sys.stderr)
            return 1
        try:
            cmd = parser.parse_args(words)
        except (argparse.ArgumentError, SystemExit) as e:  # argparse has printed the usage
            if isinstance(e, argparse.ArgumentError):
                print(f"{line.strip()}: {e}", file=sys.stderr)
            return 1
        try:
            return await _client_op(client, cmd)
        except CoordError as e:
            print(_describe(cmd.op, cmd.path, e), file=sys.stderr)
            return 1

    from coord.security.settings import SecurityConfigError

    try:
        options = _client_options(args)
    except SecurityConfigError as e:
        print(f"shell: {e}", file=sys.stderr)
        return 2

    async def run() -> int:
        client = CoordClient(args.server, session_timeout=30.0, **options)
        await client.start()
        status = 0
        try:
            for line in sys.stdin:
                if line.split()[:1] in (["quit"], ["exit"]):
                    break
                status = await one(client, line)
            return status if not sys.stdin.isatty() else 0
        finally:
            await client.stop()

    try:
        return asyncio.run(run())
    except CoordError as e:
        print(f"cannot reach {args.server}: {e}", file=sys.stderr)
        return 1
