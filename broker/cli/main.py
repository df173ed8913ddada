"""Entry point of the `pybroker` command: builds the parser from the command modules.

Each command group lives in its own module with a `register(subparsers)` function, so
that adding a command never means editing another command's code. A command line that
names its command imports only that command's module: the others pull in the broker,
the coordination server and the web console, about 0.7 s of CPU that `pybroker produce`
or `consume` in a shell pipeline would pay on every call.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from broker import __version__

# One module per command group; each defines register(subparsers) and sets
# `func` (args -> exit code) on the parsers it adds.
COMMAND_MODULES: tuple[str, ...] = (
    "broker.cli.perf",
    "broker.cli.coord",
    "broker.cli.topics",
    "broker.cli.produce",
    "broker.cli.consume",
    "broker.cli.groups",
    "broker.cli.start",
    "broker.cli.broker_cmd",
    "broker.cli.cluster",
    "broker.cli.status",
    "broker.cli.demo",
    "broker.cli.users",
    "broker.cli.acls",
)


def _module_of(argv: Sequence[str]) -> str | None:
    """The module of the command `argv` names, or None (no command, --help, --version, or a
    name no module owns: then every module registers, for the full help and error)."""
    values = iter(argv)
    for arg in values:
        if arg == "--log-level":
            next(values, None)
        elif arg.startswith("--log-level="):
            continue
        elif arg.startswith("-"):
            return None
        else:
            module = "broker.cli.broker_cmd" if arg == "broker" else f"broker.cli.{arg}"
            return module if module in COMMAND_MODULES else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv` (None: with every command)."""
    parser = argparse.ArgumentParser(
        prog="pybroker",
        description="A Kafka-like log broker with a built-in ZooKeeper-compatible coordination service.",
    )
    parser.add_argument("--version", action="version", version=f"pybroker {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging verbosity (default INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    only = None if argv is None else _module_of(argv)
    for name in COMMAND_MODULES if only is None else (only,):
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args) or 0)
