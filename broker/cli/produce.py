"""`pybroker produce TOPIC`: one record per line of standard input.

Lines are read on the main thread and handed to the sync Producer, whose event loop
sends in the background, so a person typing sees each line go out within linger_ms and
a piped file streams at full speed. With `--key-separator` the text before the first
separator is the key. Exit code 1 if a record failed: reading stops and the first error is printed.
This module must never batch or retry on its own: the producer does.
"""

from __future__ import annotations

import argparse
import collections
import sys

from broker.cli.clientcmd import add_bootstrap, local_cluster_hint, security_settings
from client import Producer
from client.errors import BrokerError, ClientError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("produce", help="send lines from stdin as records")
    p.add_argument("topic")
    add_bootstrap(p)
    p.add_argument("--key-separator", default=None, metavar="SEP",
                   help="split each line at the first SEP into key and value (default: no key)")
    p.add_argument("--acks", default="1", choices=["0", "1", "all", "-1"], help="default 1")
    p.add_argument("--partition", type=int, default=None, help="send every record to this partition")
    p.add_argument("--linger-ms", type=float, default=5, help="default 5")
    p.add_argument("--batch-size", type=int, default=16384, help="default 16384")
    p.add_argument("--max-block-ms", type=int, default=10000,
                   help="how long to wait for a missing topic's metadata before failing (default 10000)")
    p.set_defaults(func=_produce)


# Records sent between two looks at their futures for a failure.
CHECK_EVERY = 1000


class _Failures:
    """Counts failed records and keeps the first error to show. Futures are looked at every
    CHECK_EVERY lines and after the flush, not with a callback each: a callback per record
    cost more than sending it."""

    def __init__(self) -> None:
        self.count = 0
        self.first: BaseException | None = None

    def check(self, futures: collections.deque) -> None:
        """Count the failures among the oldest finished futures, dropping them; stops at the
        first unfinished one (records finish about in send order)."""
        while futures and futures[0].done():
            exc = futures.popleft().exception()
            if exc is not None:
                self.count += 1
                self.first = self.first or exc


def _produce(args: argparse.Namespace) -> int:
    failures = _Failures()
    sep = args.key_separator.encode() if args.key_separator else None
    try:
        producer = Producer(args.bootstrap, **security_settings(args),
                            acks=args.acks, linger_ms=args.linger_ms, batch_size=args.batch_size,
                            max_block_ms=args.max_block_ms, client_id="pybroker-console-producer")
    except (ClientError, BrokerError) as exc:
        print(f"error: {exc}{local_cluster_hint(exc)}", file=sys.stderr)
        return 1
    try:
        producer.partitions_for(args.topic)  # a missing topic fails here, before any line is read
    except (ClientError, BrokerError) as exc:
        producer.close()
        print(f"error: {exc}{local_cluster_hint(exc)}", file=sys.stderr)
        return 1
    sent = 0
    futures: collections.deque = collections.deque()
    checked_at = CHECK_EVERY
    try:
        for line in sys.stdin.buffer:
            value = line[:-1] if line.endswith(b"\n") else line
            key = None
            if sep is not None:
                key, found, rest = value.partition(sep)
                value = rest if found else key
                key = key if found else None
            futures.append(producer.send(args.topic, value, key=key, partition=args.partition))
            sent += 1
            if sent >= checked_at:
                checked_at += CHECK_EVERY
                failures.check(futures)
                if failures.count:
                    break  # the first error is usually every record's error (no topic, no broker)
        producer.flush()
    except KeyboardInterrupt:
        pass
    finally:
        producer.close()
    failures.check(futures)
    if failures.count:
        print(f"error: {failures.count} of {sent} records failed; first: {failures.first}", file=sys.stderr)
        return 1
    return 0
