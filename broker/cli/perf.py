"""`pybroker perf ...`: load generators that print throughput and latency.

Each benchmark lives beside the code it measures and exposes `register(perf_subparsers)`;
this module only gathers them under one command.
"""

from __future__ import annotations

import argparse
import importlib

# Modules that add a `pybroker perf <name>` subcommand.
PERF_MODULES: tuple[str, ...] = ("broker.cli.perf_client", "broker.cli.perf_coord", "broker.log.bench",
                                  "broker.cli.perf_group", "broker.cli.perf_records")


def register(subparsers: argparse._SubParsersAction) -> None:
    perf = subparsers.add_parser("perf", help="load generators: throughput and latency")
    perf_sub = perf.add_subparsers(dest="perf_command", metavar="BENCHMARK")
    for name in PERF_MODULES:
        importlib.import_module(name).register(perf_sub)
    perf.set_defaults(func=lambda args: (perf.print_help(), 2)[1])
