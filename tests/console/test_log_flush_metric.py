"""Kafka's LogFlushRateAndTimeMs from a real broker process: with flush.messages=1 every
acknowledged produce request waits for its own fsync, so the flush histogram's count grows
by the number of requests sent one after another (and its time sum grows with it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from client import AsyncProducer
from tests.console.cluster import cli, scrape
from tests.support.node import bootstrap as bootstrap_of
from tests.support.node import new_node
from tests.support.procs import ProcessGroup, wait_for_port

FLUSH = "kafka_log_logflushstats_logflushrateandtimems"
TOPIC = "flushed"


async def _produce_one_by_one(bootstrap: str, requests: int) -> None:
    """`requests` Produce requests, each answered before the next is sent."""
    async with AsyncProducer(bootstrap, acks=1, linger_ms=0) as producer:
        for i in range(requests):
            fut = await producer.send(TOPIC, f"record {i}".encode())
            await producer.flush()
            await fut


def _flushes(metrics_url: str) -> tuple[float, float]:
    samples = scrape(metrics_url)
    return samples.get((FLUSH + "_count", ()), 0.0), samples.get((FLUSH + "_sum", ()), 0.0)


def test_flush_count_follows_produce_requests(procs: ProcessGroup, tmp_path: Path):
    node = new_node(procs, tmp_path)
    node.start()
    wait_for_port(node.metrics_port, timeout=30)
    bootstrap, metrics = bootstrap_of(node), f"http://127.0.0.1:{node.metrics_port}/metrics"
    created = cli(
        "topics",
        "create",
        TOPIC,
        "--partitions",
        "1",
        "--replication-factor",
        "1",
        "--config",
        "flush.messages=1",
        "--bootstrap",
        bootstrap,
    )
    assert created.returncode == 0, created.stderr
    asyncio.run(_produce_one_by_one(bootstrap, 1))  # the partition is open and led

    for requests in (10, 30):
        count_before, sum_before = _flushes(metrics)
        asyncio.run(_produce_one_by_one(bootstrap, requests))
        count_after, sum_after = _flushes(metrics)
        # one real fsync per request; nothing else on this broker has data to flush
        assert requests <= count_after - count_before <= requests + 2, (requests, count_before, count_after)
        assert sum_after > sum_before
