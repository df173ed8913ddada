"""`pybroker consume TOPIC`: print records to stdout, one value per line.

Reads every partition of the topic (or `--partition P`) from the end, or from the start
with `--from-beginning`; stops after `--max-messages N`, after `--timeout-ms` without a
record, or on Ctrl-C / SIGTERM. With `--group G` it joins consumer group G instead:
partitions are shared with the group's other members, reading starts at the group's
committed offsets (else as `--from-beginning` says), and what was printed is committed
before it exits. This module must never decode records itself: the consumer does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from broker.cli.clientcmd import add_bootstrap, local_cluster_hint, security_settings
from client import AsyncConsumer, TopicPartition
from client.errors import BrokerError, ClientError
from coord.service import run_until_signal


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("consume", help="print records of a topic, one per line")
    p.add_argument("topic")
    add_bootstrap(p)
    p.add_argument("--from-beginning", action="store_true", help="start at the earliest offset (default: latest)")
    p.add_argument(
        "--group",
        default=None,
        metavar="G",
        help="join consumer group G: share the partitions, resume from its committed offsets",
    )
    p.add_argument("--max-messages", type=int, default=None, metavar="N", help="exit after N records")
    p.add_argument("--partition", type=int, default=None, metavar="P", help="read only partition P")
    p.add_argument("--offset", type=int, default=None, help="start at this offset (needs --partition)")
    p.add_argument("--timeout-ms", type=int, default=None, help="exit if no record arrives for this long")
    p.add_argument("--print-key", action="store_true", help="print KEY<separator>VALUE")
    p.add_argument("--key-separator", default="\t", help="between key and value with --print-key (default TAB)")
    p.set_defaults(func=_consume)


def _consume(args: argparse.Namespace) -> int:
    if args.offset is not None and args.partition is None:
        print("error: --offset needs --partition", file=sys.stderr)
        return 2
    if args.group is not None and (args.partition is not None or args.offset is not None):
        print(
            "error: --group shares the topic's partitions among the group; drop --partition/--offset", file=sys.stderr
        )
        return 2

    async def service(stop: asyncio.Event) -> int:
        try:
            return await _run(args, stop)
        except (ClientError, BrokerError) as exc:
            print(f"error: {exc}{local_cluster_hint(exc)}", file=sys.stderr)
            return 1

    return run_until_signal(service)


async def _run(args: argparse.Namespace, stop: asyncio.Event) -> int:
    out = sys.stdout.buffer
    sep = args.key_separator.encode()
    remaining = args.max_messages
    idle_ms = 0
    async with AsyncConsumer(
        args.bootstrap,
        **security_settings(args),
        auto_offset_reset="earliest" if args.from_beginning else "latest",
        client_id="pybroker-console-consumer",
        group_id=args.group,
    ) as consumer:
        if args.group is not None:
            await consumer.partitions_for_topic(args.topic)  # a missing topic fails now, clearly
            consumer.subscribe([args.topic])
        else:
            if args.partition is not None:
                partitions = [args.partition]
            else:
                partitions = await consumer.partitions_for_topic(args.topic)
            consumer.assign([TopicPartition(args.topic, p) for p in partitions])
            if args.offset is not None:
                consumer.seek(TopicPartition(args.topic, args.partition), args.offset)
        while not stop.is_set() and (remaining is None or remaining > 0):
            records = await consumer.poll(timeout_ms=200, max_records=remaining or 10000)
            if not records:
                idle_ms += 200
                if args.timeout_ms is not None and idle_ms >= args.timeout_ms:
                    break
                continue
            idle_ms = 0
            if args.print_key:
                out.write(b"".join((r.key or b"") + sep + (r.value or b"") + b"\n" for r in records))
            else:
                out.write(b"".join((r.value or b"") + b"\n" for r in records))
            out.flush()
            if remaining is not None:
                remaining -= len(records)
    return 0
