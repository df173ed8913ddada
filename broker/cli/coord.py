"""`pybroker coord ...`: coord's own commands (`coord.cli`), mounted under pybroker.

This module must never define a coord command itself: coord's command line lives with coord,
so that coord runs and is tested without the broker.
"""

from __future__ import annotations

import argparse

from coord.cli import add_commands


def register(subparsers: argparse._SubParsersAction) -> None:
    add_commands(subparsers.add_parser("coord", help="the coordination service (ZooKeeper-compatible)"))
