"""The end-to-end test: 100,000 records in through the Python client and through
`pybroker produce`, out through the consumer and `pybroker consume`, identical and in
order per partition; then the node restarts and everything reads back the same."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from client import AsyncAdmin, AsyncConsumer, AsyncProducer, NewTopic, TopicPartition
from tests.support.node import bootstrap

N = 100_000
PARTITIONS = 4


def expected_value(i: int) -> bytes:
    return b"record-%06d-" % i + b"x" * (i % 50)


async def read_partitions(bs: str, topic: str, partitions: int, n: int) -> dict[int, list]:
    out: dict[int, list] = {p: [] for p in range(partitions)}
    count = 0
    async with AsyncConsumer(bs, auto_offset_reset="earliest", max_poll_records=10_000) as consumer:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        async with asyncio.timeout(60):
            while count < n:
                for r in await consumer.poll(timeout_ms=1000):
                    out[r.partition].append((r.offset, r.key, r.value))
                    count += 1
    return out


def check(by_partition: dict[int, list]) -> None:
    seen = []
    for records in by_partition.values():
        offsets = [o for o, _, _ in records]
        assert offsets == list(range(len(records)))  # no gap, no duplicate
        numbers = [int(v[7:13]) for _, _, v in records]
        assert numbers == sorted(numbers)  # send order per partition
        assert all(v == expected_value(int(v[7:13])) for _, _, v in records)
        seen.extend(numbers)
    assert sorted(seen) == list(range(N))


async def test_100k_records_through_the_client_and_back_across_a_restart(node) -> None:
    node.start()
    bs = bootstrap(node)
    async with AsyncAdmin(bs) as admin:
        await admin.create_topics([NewTopic("e2e", PARTITIONS)])
    async with AsyncProducer(bs, acks="all", batch_size=65536) as producer:
        for i in range(N):
            await producer.send("e2e", expected_value(i), key=b"%d" % (i % 997))
        await producer.flush()
    first = await read_partitions(bs, "e2e", PARTITIONS, N)
    check(first)
    assert node.stop() == 0
    node.start()
    assert await read_partitions(bs, "e2e", PARTITIONS, N) == first


def test_100k_lines_through_the_cli_and_back(node) -> None:
    node.start()
    bs = ["--bootstrap", bootstrap(node)]
    run = [sys.executable, "-m", "broker"]
    assert subprocess.run([*run, "topics", "create", "cli-e2e", *bs], capture_output=True).returncode == 0
    lines = b"".join(expected_value(i) + b"\n" for i in range(N))
    produced = subprocess.run([*run, "produce", "cli-e2e", *bs], input=lines, capture_output=True, timeout=120)
    assert produced.returncode == 0, produced.stderr
    consumed = subprocess.run(
        [*run, "consume", "cli-e2e", "--from-beginning", "--max-messages", str(N), *bs],
        capture_output=True,
        timeout=120,
    )
    assert consumed.returncode == 0, consumed.stderr
    assert consumed.stdout == lines
