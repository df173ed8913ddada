"""`pybroker users add|delete|list`: SCRAM credentials in coord, the job kafka-configs does with
`--alter --add-config 'SCRAM-SHA-256=[password=...]' --entity-type users`.

It talks to coord directly (as kafka-configs --zookeeper did), so it works before any broker
runs; brokers read a user's credentials at each login. With `--config` (the brokers' TOML file)
it reaches coord as the brokers do (their zookeeper.ssl.* settings and JAAS Client login) and,
under zookeeper.set.acl, creates /config/users/<user> with their ACLs: nobody else may read it.
It must never print a password or a stored key.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import Any

from broker.config import ConfigError, load_config
from broker.security.coord_link import coord_link
from broker.security.credentials import delete_credential, list_users, set_credential
from client.scram import HASHES, MIN_ITERATIONS
from coord.client import CoordClient
from coord.protocol.errors import CoordError


async def _with_coord(connect: str, options: dict[str, Any], work):
    coord = CoordClient(connect, session_timeout=10, **options)
    await coord.start()
    try:
        return await work(coord)
    finally:
        await coord.stop()


def _run(args: argparse.Namespace) -> int:
    try:
        options = coord_link(load_config(args.config)).client_options() if args.config else {}
        if args.users_command == "add":
            password = args.password if args.password is not None else getpass.getpass(f"password for {args.name}: ")
            mechanisms = args.mechanism or list(HASHES)

            async def add(coord):
                for mechanism in mechanisms:
                    await set_credential(coord, args.name, mechanism, password, args.iterations)

            asyncio.run(_with_coord(args.coord, options, add))
            print(f"user {args.name}: {', '.join(mechanisms)} credentials set")
        elif args.users_command == "delete":
            mechanism = args.mechanism[0] if args.mechanism else None
            found = asyncio.run(_with_coord(args.coord, options, lambda c: delete_credential(c, args.name, mechanism)))
            if not found:
                print(f"user {args.name} has no {mechanism or 'SCRAM'} credentials", file=sys.stderr)
                return 1
            print(f"user {args.name}: {mechanism or 'all SCRAM'} credentials deleted")
        else:
            users = asyncio.run(_with_coord(args.coord, options, list_users))
            for user, mechanisms in users.items():
                print(f"{user}\t{','.join(mechanisms) or '-'}")
        return 0
    except (ValueError, ConfigError, CoordError, OSError) as exc:
        print(f"pybroker users {args.users_command}: error: {exc}", file=sys.stderr)
        return 1


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("users", help="SCRAM users kept in coord (kafka-configs --entity-type users)")
    sub = group.add_subparsers(dest="users_command", metavar="ACTION")
    for name, text in (
        ("add", "add or change a user's SCRAM credentials"),
        ("delete", "delete a user's SCRAM credentials"),
        ("list", "list users and their mechanisms"),
    ):
        p = sub.add_parser(name, help=text)
        if name != "list":
            p.add_argument("name", help="user name (the principal is User:<name>)")
            p.add_argument(
                "--mechanism",
                action="append",
                choices=list(HASHES),
                help="SCRAM-SHA-256 or SCRAM-SHA-512 (repeatable; default: both for add, all for delete)",
            )
        if name == "add":
            p.add_argument("--password", default=None, help="the password (default: asked for on the terminal)")
            p.add_argument(
                "--iterations",
                type=int,
                default=MIN_ITERATIONS,
                help=f"PBKDF2 iterations (default and minimum {MIN_ITERATIONS})",
            )
        p.add_argument("--coord", default="127.0.0.1:2181", help="coord servers host:port,... (default 127.0.0.1:2181)")
        p.add_argument(
            "--config",
            type=Path,
            default=None,
            help="the brokers' TOML file: reach coord with its zookeeper.* settings (TLS, the JAAS "
            "Client login, zookeeper.set.acl)",
        )
        p.set_defaults(func=_run)
    group.set_defaults(func=lambda args: (group.print_help(), 2)[1])
