"""Redis Streams baseline for `pybroker perf produce|consume`: the same records, the same machine.

Starts Debian's redis-server on a free loopback port (no persistence: no RDB, no AOF,
so this is Redis's best case), XADDs N records of `--record-size` bytes pipelined in
batches of 1,000, then reads them back with XRANGE in pages of 10,000. Prints one JSON
line per phase, shaped like the perf commands' output. Needs redis-py (`pip install
redis`), which is a benchmark-only dependency, deliberately not in pyproject.toml. This
script must never be imported by pybroker code or tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(tmp: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            redis.Redis(port=port).ping()
            return proc, port
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("redis-server did not start within 10 s")


def produce(r: redis.Redis, n: int, size: int) -> dict:
    value = os.urandom(size)
    start = time.perf_counter()
    for base in range(0, n, 1000):
        pipe = r.pipeline(transaction=False)
        for _ in range(min(1000, n - base)):
            pipe.xadd("bench", {"v": value})
        pipe.execute()
    elapsed = time.perf_counter() - start
    return {
        "system": "redis-streams",
        "phase": "produce",
        "records": n,
        "seconds": round(elapsed, 3),
        "records_per_sec": round(n / elapsed, 1),
        "mb_per_sec": round(n * size / elapsed / 1e6, 2),
    }


def consume(r: redis.Redis, n: int) -> dict:
    start = time.perf_counter()
    count = nbytes = 0
    last = "-"
    while count < n:
        page = r.xrange("bench", min=last, max="+", count=10_000)
        if last != "-":
            page = page[1:]  # XRANGE's min is inclusive: drop the entry we already have
        if not page:
            break
        count += len(page)
        nbytes += sum(len(fields[b"v"]) for _, fields in page)
        last = page[-1][0]
    elapsed = time.perf_counter() - start
    return {
        "system": "redis-streams",
        "phase": "consume",
        "records": count,
        "seconds": round(elapsed, 3),
        "records_per_sec": round(count / elapsed, 1),
        "mb_per_sec": round(nbytes / elapsed / 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-records", type=int, default=1_000_000)
    parser.add_argument("--record-size", type=int, default=100)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="redis-bench-")
    proc, port = start_redis(tmp)
    try:
        r = redis.Redis(port=port)
        print(json.dumps(produce(r, args.num_records, args.record_size)), flush=True)
        print(json.dumps(consume(r, args.num_records)), flush=True)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
