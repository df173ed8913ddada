"""`pybroker perf ...`: load generators that print throughput and latency.

This module only parses the arguments; the load code lives in broker/perf/, one module
per thing measured.
"""

from __future__ import annotations

import argparse

from broker.cli.clientcmd import add_bootstrap, run_client
from broker.perf import client, coord, group, log, records


def register(subparsers: argparse._SubParsersAction) -> None:
    perf = subparsers.add_parser("perf", help="load generators: throughput and latency")
    sub = perf.add_subparsers(dest="perf_command", metavar="BENCHMARK")
    for add in (_produce, _consume, _e2e, _coord, _log, _group, _records):
        add(sub)
    perf.set_defaults(func=lambda args: (perf.print_help(), 2)[1])


def _topic_load(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topic", required=True)
    p.add_argument("--num-records", type=int, required=True)
    add_bootstrap(p)


def _produce(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("produce", help="producer throughput and latency")
    _topic_load(p)
    p.add_argument("--record-size", type=int, default=100, help="value bytes per record (default 100)")
    p.add_argument("--acks", default="1", choices=["0", "1", "all", "-1"])
    p.add_argument("--throughput", type=float, default=0, help="records/s to aim for (default: unlimited)")
    p.add_argument("--batch-size", type=int, default=65536, help="default 65536")
    p.add_argument("--linger-ms", type=float, default=5)
    p.add_argument(
        "--idempotence",
        choices=["on", "off"],
        default=None,
        help="enable_idempotence (default: the client's rule, on unless --acks is 0 or 1)",
    )
    p.add_argument("--keyed", action="store_true", help='key each record b"k%%d" %% i (default: no key)')
    p.add_argument(
        "--sync",
        action="store_true",
        help="drive the sync Producer as README.md shows (send() in a loop, then flush()) instead of the AsyncProducer",
    )
    p.set_defaults(func=lambda a: client.perf_produce_sync(a) if a.sync else run_client(client.perf_produce(a)))


def _consume(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("consume", help="consumer throughput from the start of a topic")
    _topic_load(c)
    c.add_argument(
        "--fetch-size",
        type=int,
        default=1048576,
        help="max_partition_fetch_bytes: bytes per partition per Fetch (default 1048576)",
    )
    c.set_defaults(func=lambda a: run_client(client.perf_consume(a)))


def _e2e(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("e2e", help="end-to-end latency (send to poll) at a fixed rate")
    _topic_load(e)
    e.add_argument("--record-size", type=int, default=100)
    e.add_argument("--throughput", type=float, required=True, help="records/s")
    e.add_argument("--acks", default="1", choices=["0", "1", "all", "-1"])
    e.add_argument("--linger-ms", type=float, default=0)
    e.set_defaults(func=lambda a: run_client(client.perf_e2e(a)))


def _coord(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("coord", help="coord server: create/get/set ops/s and latency")
    p.add_argument("--servers", default="127.0.0.1:2181", help="connect string (default %(default)s)")
    p.add_argument("--ops", type=int, default=2000, help="operations per op and mode (default %(default)s)")
    p.add_argument("--clients", type=int, default=4, help="sessions in pipelined mode (default %(default)s)")
    p.add_argument(
        "--pipeline",
        type=int,
        default=64,
        help="requests in flight per session in pipelined mode (default %(default)s)",
    )
    p.add_argument("--value-size", type=int, default=64, help="bytes per znode value (default %(default)s)")
    p.add_argument(
        "--compare-zookeeper", action="store_true", help="also start a real ZooKeeper (Debian package) and print ratios"
    )
    p.add_argument(
        "--ensemble",
        type=int,
        default=0,
        metavar="N",
        help="start our own N-member ensemble (ignores --servers) and measure "
        "failover too; with --compare-zookeeper also a real N-member one",
    )
    p.add_argument(
        "--tick-ms", type=int, default=2000, help="tickTime of the ensembles --ensemble starts (default %(default)s)"
    )
    p.add_argument(
        "--failovers", type=int, default=3, help="kill -9 leader rounds with --ensemble (default %(default)s)"
    )
    p.set_defaults(func=coord.run)


def _log(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("log", help="storage engine: append / read / lookup throughput next to dd")
    p.add_argument("--dir", default=None, help="directory for the temporary data (default: the system temp dir)")
    p.add_argument("--size-mb", type=int, default=1024, help="MiB to append (default %(default)s)")
    p.add_argument("--batch-kb", type=int, default=16, help="batch size in KiB (default %(default)s)")
    p.add_argument("--record-size", type=int, default=100, help="value bytes per record (default %(default)s)")
    p.add_argument("--fsync-mb", type=int, default=32, help="MiB for the fsync-per-batch run (default %(default)s)")
    p.add_argument("--lookups", type=int, default=20000, help="random offset lookups (default %(default)s)")
    p.set_defaults(func=log.run)


def _group(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("group", help="consumer group throughput (1 vs N members) and rebalance times")
    p.add_argument("--topic", required=True, help="a topic holding at least --num-records records")
    p.add_argument("--num-records", type=int, required=True)
    p.add_argument("--members", type=int, default=3, help="members of the measured group (default 3)")
    p.add_argument("--session-timeout-ms", type=int, default=6000, help="members' session timeout (default 6000)")
    p.add_argument("--heartbeat-interval-ms", type=int, default=1000, help="default 1000")
    add_bootstrap(p)
    p.set_defaults(func=lambda a: run_client(group.perf_group(a)))


def _records(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("records", help="record batch encode/decode/validate rates, per codec")
    p.add_argument("--record-size", type=int, default=100, help="value bytes per record (default 100)")
    p.add_argument("--batch-records", type=int, default=1000, help="records per batch (default 1000)")
    p.add_argument("--seconds", type=float, default=1.0, help="length of one timed round (default 1)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per figure; the best counts (default 3)")
    p.add_argument("--codecs", default="none,gzip,snappy,lz4,zstd", help="comma-separated (default all)")
    p.add_argument(
        "--implementations",
        default=None,
        help="record codecs to time, comma-separated: python, c (default: both where c is built)",
    )
    p.set_defaults(func=records.perf_records)
