"""What the client commands (topics, produce, consume, perf produce/consume) share.

The `--bootstrap` and `--command-config` flags (Kafka's client security properties, as
kafka-topics and friends take them) and one way to turn client and broker errors into a one-line
message and exit code 1, so every command fails the same readable way. When no broker
answers and a local cluster (`pybroker cluster up`) runs in ./pybroker-cluster, the
message names that cluster's bootstrap servers: its brokers listen on chosen ports, not
on the default 127.0.0.1:9092. This module must never hold command logic of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from client.errors import BrokerError, ClientError, NoBrokersAvailableError
from client.security import from_properties, read_properties

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


def add_bootstrap(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap",
        default=DEFAULT_BOOTSTRAP,
        metavar="HOST:PORT[,HOST:PORT...]",
        help=f"brokers to connect to first (default {DEFAULT_BOOTSTRAP})",
    )
    parser.add_argument(
        "--command-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="client properties (security.protocol, ssl.*, sasl.*), as Kafka's tools take",
    )


def security_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The clients' security keyword arguments from --command-config (none without it)."""
    path = getattr(args, "command_config", None)
    return from_properties(read_properties(path)).settings() if path is not None else {}


def run_client(coro: Coroutine[Any, Any, int | None]) -> int:
    """Run a client coroutine; a client or broker error becomes `error: ...` and exit code 1."""
    try:
        return int(asyncio.run(coro) or 0)
    except (ClientError, BrokerError, ValueError) as exc:
        print(f"error: {exc}{local_cluster_hint(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def local_cluster_hint(exc: BaseException, cluster_dir: Path = Path("pybroker-cluster")) -> str:
    """For "no broker answered": where the running local cluster in `cluster_dir` listens, else ""."""
    if not isinstance(exc, NoBrokersAvailableError):
        return ""
    from broker.cli.cluster_procs import running_state  # only on this error path: it loads the coord client
    from broker.cli.cluster_state import ClusterStateError

    try:
        state = running_state(cluster_dir)
    except (ClusterStateError, OSError):  # an unreadable state file only means no hint
        return ""
    if state is None:
        return ""
    return f"\n(a local cluster runs in {cluster_dir}: pass --bootstrap {state.bootstrap})"
