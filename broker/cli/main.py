"""Entry point of the `pybroker` command: builds the parser from the command modules.

Each command group lives in its own module with a `register(subparsers)` function, so
that adding a command never means editing another command's code.
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pybroker",
        description="A Kafka-like log broker with a built-in ZooKeeper-compatible coordination service.",
    )
    parser.add_argument("--version", action="version", version=f"pybroker {__version__}")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging verbosity (default INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args) or 0)
