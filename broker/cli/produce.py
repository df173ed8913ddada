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
from collections.abc import Iterator
from typing import BinaryIO

from broker.cli.clientcmd import add_bootstrap, local_cluster_hint, security_settings
from client import Producer
from client.errors import BrokerError, ClientError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("produce", help="send lines from stdin as records")
    p.add_argument("topic")
    add_bootstrap(p)
    p.add_argument(
        "--key-separator",
        default=None,
        metavar="SEP",
        help="split each line at the first SEP into key and value (default: no key)",
    )
    p.add_argument("--acks", default="1", choices=["0", "1", "all", "-1"], help="default 1")
    p.add_argument("--partition", type=int, default=None, help="send every record to this partition")
    p.add_argument("--linger-ms", type=float, default=5, help="default 5")
    p.add_argument("--batch-size", type=int, default=16384, help="default 16384")
    p.add_argument(
        "--max-block-ms",
        type=int,
        default=10000,
        help="how long to wait for a missing topic's metadata before failing (default 10000)",
    )
    p.add_argument(
        "--delivery-timeout-ms",
        type=int,
        default=120000,
        help="how long a record may wait for the broker to take it, retries included, before it fails (default 120000)",
    )
    p.set_defaults(func=_produce)


# Bytes asked of stdin at once: a piped file is split into lines a block at a time.
BLOCK = 1 << 20
# Records sent and not yet looked at for a failure, at most: beyond it, reading waits for
# the oldest. The producer queues many more; kept futures are what costs here.
WINDOW = 20_000


class _Failures:
    """Counts failed records and keeps the first error to show. Futures are looked at after
    each block of lines and after the flush, not with a callback each: a callback per record
    cost more than sending it."""

    def __init__(self) -> None:
        self.count = 0
        self.first: BaseException | None = None

    def check(self, futures: collections.deque, keep: int) -> None:
        """Count the failures among the oldest futures, dropping them: beyond the newest
        `keep`, waiting for each to end; then those already done, up to the first that is
        not (records finish about in send order)."""
        while len(futures) > keep:
            self._count(futures.popleft().exception())
        while futures and futures[0].done():
            self._count(futures.popleft().exception())

    def _count(self, exc: BaseException | None) -> None:
        if exc is not None:
            self.count += 1
            self.first = self.first or exc


def read_lines(stream: BinaryIO) -> Iterator[list[bytes]]:
    """The lines of `stream` without their newlines, in lists as they arrive: `read1` returns
    what one read gives, so a typed line goes out at once and a piped file goes in blocks of
    up to BLOCK bytes, split in one call. A last line without a newline counts too."""
    rest = b""
    while True:
        block = stream.read1(BLOCK)  # type: ignore[attr-defined]  # stdin's buffer is a BufferedReader
        if not block:
            if rest:
                yield [rest]
            return
        lines = (rest + block if rest else block).split(b"\n")
        rest = lines.pop()
        if lines:
            yield lines


def _produce(args: argparse.Namespace) -> int:
    failures = _Failures()
    sep = args.key_separator.encode() if args.key_separator else None
    try:
        producer = Producer(
            args.bootstrap,
            **security_settings(args),
            acks=args.acks,
            linger_ms=args.linger_ms,
            batch_size=args.batch_size,
            max_block_ms=args.max_block_ms,
            delivery_timeout_ms=args.delivery_timeout_ms,
            client_id="pybroker-console-producer",
        )
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
    send, topic, partition = producer.send, args.topic, args.partition
    try:
        for lines in read_lines(sys.stdin.buffer):
            if sep is None:
                futures.extend([send(topic, value, None, None, partition) for value in lines])
            else:
                for line in lines:
                    key, found, value = line.partition(sep)
                    futures.append(
                        send(topic, value, key, None, partition) if found else send(topic, key, None, None, partition)
                    )
            sent += len(lines)
            failures.check(futures, WINDOW)
            if failures.count:
                break  # the first error is usually every record's error (no topic, no broker)
        producer.flush()
    except KeyboardInterrupt:
        pass
    finally:
        producer.close()
    failures.check(futures, 0)
    if failures.count:
        print(f"error: {failures.count} of {sent} records failed; first: {failures.first}", file=sys.stderr)
        return 1
    return 0
