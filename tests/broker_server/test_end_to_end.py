"""End to end through real processes: `pybroker start`, the Python client and the CLI.

100,000 records go in (90,000 from AsyncProducer, 10,000 as lines through `pybroker
produce`), come back identical and in order per partition, and again after a restart.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import defaultdict

from client import AsyncAdmin, AsyncConsumer, AsyncProducer, NewTopic, TopicPartition

PARTITIONS = 3
PY_RECORDS = 90_000
CLI_RECORDS = 10_000


async def produce_python(bootstrap: str) -> dict[int, list[tuple[bytes, bytes]]]:
    """Send PY_RECORDS keyed records; the acknowledged (key, value)s per partition in offset order."""
    async with AsyncAdmin(bootstrap) as admin:
        await admin.create_topics([NewTopic("e2e", num_partitions=PARTITIONS)])
    sent = []
    async with AsyncProducer(bootstrap, acks="all", linger_ms=5) as producer:
        for i in range(PY_RECORDS):
            key, value = b"k%d" % (i % 1000), b"py-%d" % i
            sent.append((key, value, await producer.send("e2e", value, key=key)))
        await producer.flush()
        metas = [(k, v, await fut) for k, v, fut in sent]
    by_partition: dict[int, list[tuple[int, bytes, bytes]]] = defaultdict(list)
    for key, value, meta in metas:
        by_partition[meta.partition].append((meta.offset, key, value))
    return {p: [(k, v) for _, k, v in sorted(rows)] for p, rows in by_partition.items()}


async def consume_all(bootstrap: str, expected: int) -> dict[int, list[tuple[int, bytes | None, bytes]]]:
    out: dict[int, list] = defaultdict(list)
    async with AsyncConsumer(bootstrap, auto_offset_reset="earliest") as consumer:
        consumer.assign([TopicPartition("e2e", p) for p in range(PARTITIONS)])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        count = 0
        while count < expected and loop.time() < deadline:
            for record in await consumer.poll(timeout_ms=500):
                out[record.partition].append((record.offset, record.key, record.value))
                count += 1
    return out


def check(consumed: dict, python_sent: dict, cli_lines: list[bytes]) -> None:
    total = sum(len(v) for v in consumed.values())
    assert total == PY_RECORDS + CLI_RECORDS
    for partition, rows in consumed.items():
        assert [o for o, _, _ in rows] == list(range(len(rows))), f"partition {partition} has gaps or reorders"
        python_rows = [(k, v) for _, k, v in rows if v.startswith(b"py-")]
        assert python_rows == python_sent.get(partition, [])
    cli_values = sorted(v for rows in consumed.values() for _, k, v in rows if v.startswith(b"cli-"))
    assert cli_values == sorted(cli_lines)


def test_hundred_thousand_records_through_client_and_cli_survive_a_restart(node):
    node.start()
    bootstrap = f"127.0.0.1:{node.broker_port}"
    python_sent = asyncio.run(produce_python(bootstrap))
    cli_lines = [b"cli-%d" % i for i in range(CLI_RECORDS)]
    proc = subprocess.run(
        [sys.executable, "-m", "broker", "produce", "e2e", "--bootstrap", bootstrap],
        input=b"\n".join(cli_lines) + b"\n",
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    check(asyncio.run(consume_all(bootstrap, PY_RECORDS + CLI_RECORDS)), python_sent, cli_lines)
    assert node.stop() == 0
    node.start()
    check(asyncio.run(consume_all(bootstrap, PY_RECORDS + CLI_RECORDS)), python_sent, cli_lines)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "broker",
            "consume",
            "e2e",
            "--bootstrap",
            bootstrap,
            "--from-beginning",
            "--max-messages",
            str(PY_RECORDS + CLI_RECORDS),
            "--timeout-ms",
            "20000",
        ],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.splitlines()
    assert len(lines) == PY_RECORDS + CLI_RECORDS
    assert sorted(line for line in lines if line.startswith(b"cli-")) == sorted(cli_lines)
