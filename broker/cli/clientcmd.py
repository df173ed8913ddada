"""What the client commands (topics, produce, consume, perf produce/consume) share.

The `--bootstrap` flag and one way to turn client and broker errors into a one-line
message and exit code 1, so every command fails the same readable way. This module
must never hold command logic of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

from client.errors import BrokerError, ClientError

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


def add_bootstrap(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap", default=DEFAULT_BOOTSTRAP, metavar="HOST:PORT[,HOST:PORT...]",
                        help=f"brokers to connect to first (default {DEFAULT_BOOTSTRAP})")


def run_client(coro: Coroutine[Any, Any, int | None]) -> int:
    """Run a client coroutine; a client or broker error becomes `error: ...` and exit code 1."""
    try:
        return int(asyncio.run(coro) or 0)
    except (ClientError, BrokerError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
