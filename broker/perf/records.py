"""`pybroker perf records`: the record batch codec alone, records per second, per codec.

For each compression codec, times the four per-record paths on batches of
`--batch-records` records of `--record-size` bytes (no key, no headers, as `perf
produce` sends; values half random, half repeated, so the codecs have something to
do): the producer's `build_batch`, `decode_batch`, the consumer's
`decode_consumer_records` (ConsumerRecords straight from a batch) and the leader's
`validate_for_append`. Each figure is the best of `--rounds` rounds of about
`--seconds` seconds, so a busy neighbour costs less. One line per codec and figure,
then one JSON line.

`--implementations python,c` (the default where the compiled record codec is built)
times each record codec in the same run: the records module picks its codec at import,
so each implementation runs in a child process (PYBROKER_PURE_PYTHON=1 for python).
This module must never be imported by serving code.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

from broker.log import LogConfig
from broker.log.validator import validate_for_append
from client.consumer.fetcher import decode_consumer_records
from client.protocol import records as records_module
from client.protocol.record_batch import Compression, build_batch, decode_batch
from client.structs import TopicPartition

TP = TopicPartition("perf", 0)


def _compiled_built() -> bool:
    try:
        from client.protocol import _records_c  # noqa: F401
    except ImportError:
        return False
    return True


def _each_implementation(args: argparse.Namespace, names: list[str]) -> int:
    """Runs this command once per implementation, each in a child, its lines prefixed."""
    summary = {}
    for name in names:
        env = {**os.environ, "PYBROKER_PURE_PYTHON": "1" if name == "python" else "0"}
        argv = [
            sys.executable,
            "-c",
            "import sys; from broker.cli.main import main; sys.exit(main(sys.argv[1:]))",
            "perf",
            "records",
            "--implementations",
            name,
            "--record-size",
            str(args.record_size),
            "--batch-records",
            str(args.batch_records),
            "--seconds",
            str(args.seconds),
            "--rounds",
            str(args.rounds),
            "--codecs",
            args.codecs,
        ]
        child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("{"):
                summary[name] = json.loads(line)["results"]
            else:
                print(f"{name:6} {line}", end="", flush=True)
        if child.wait() != 0:
            return child.returncode
    print(json.dumps({"record_size": args.record_size, "batch_records": args.batch_records, "results": summary}))
    return 0


def _rate(work: Callable[[], object], records: int, seconds: float, rounds: int) -> float:
    """Best records/s over `rounds` rounds of `work` repeated for about `seconds`."""
    best = 0.0
    for _ in range(rounds):
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            work()
            calls += 1
        best = max(best, calls * records / elapsed)
    return best


def perf_records(args: argparse.Namespace) -> int:
    names = (args.implementations or ("python,c" if _compiled_built() else "python")).split(",")
    if len(names) > 1:
        return _each_implementation(args, [n.strip() for n in names])
    if names[0].strip() != records_module.CODEC:
        raise SystemExit(
            f"the {names[0]} record codec is not available here (this process uses "
            f"{records_module.CODEC}; is the extension built?)"
        )
    half = args.record_size // 2
    value = os.urandom(half) + b"v" * (args.record_size - half)
    now = int(time.time() * 1000)
    records = [(None, value, None, now + i // 100) for i in range(args.batch_records)]
    config, results = LogConfig(max_batch_bytes=1 << 30), {}
    for name in args.codecs.split(","):
        codec = Compression[name.strip().upper()]
        batch = build_batch(records, compression=codec)
        paths: dict[str, Callable[[], object]] = {
            "build_batch": functools.partial(build_batch, records, compression=codec),
            "decode_batch": functools.partial(decode_batch, batch),
            "decode_consumer_records": functools.partial(decode_consumer_records, TP, batch, 0),
            "validate_for_append": functools.partial(validate_for_append, batch, config),
        }
        results[codec.name.lower()] = figures = {"batch_bytes": len(batch)}
        for path, work in paths.items():
            figures[path] = round(_rate(work, args.batch_records, args.seconds, args.rounds))
            print(f"{codec.name.lower():7} {path:24} {figures[path]:>12,} records/s", flush=True)
    print(json.dumps({"record_size": args.record_size, "batch_records": args.batch_records, "results": results}))
    return 0
