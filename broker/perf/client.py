"""`pybroker perf produce|consume|e2e`: load generators for the broker, through the client.

produce: N records of a fixed size as fast as possible (or at `--throughput`), latency
sampled on every 100th record from send() to acknowledgement; `--sync` drives the sync
Producer from a plain loop instead of the AsyncProducer. consume: N records from
the start of every partition, with the time each poll took. e2e: a producer and a
consumer in one process at a fixed rate; each value carries its send time, so the
latency is send() to the record coming out of poll(). Each prints a progress line every
2 seconds on stderr and one final JSON line on stdout. This module must never change
how the client works to look faster: it uses the public API only.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import struct
import sys
import time

from broker.cli.clientcmd import security_settings
from client import AsyncConsumer, AsyncProducer, Producer, TopicPartition

SAMPLE_EVERY = 100
PROGRESS_EVERY = 2.0
_STAMP = struct.Struct(">q")


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    if not samples_ms:
        return {}
    s = sorted(samples_ms)

    def at(q: float) -> float:
        return round(s[min(len(s) - 1, int(q * len(s)))], 3)

    return {
        "avg": round(sum(s) / len(s), 3),
        "p50": at(0.5),
        "p95": at(0.95),
        "p99": at(0.99),
        "p999": at(0.999),
        "max": round(s[-1], 3),
    }


def _note_latency(latencies: list[float], sent_at: float, _future: object) -> None:
    """A sampled record's answer arrived: note its latency in ms."""
    latencies.append((time.perf_counter() - sent_at) * 1000)


class _Progress:
    def __init__(self, what: str, record_size: float) -> None:
        self.what, self.size = what, record_size
        self.start = self.last = time.perf_counter()
        self.last_count = 0

    def maybe_print(self, count: int, latencies: list[float]) -> None:
        now = time.perf_counter()
        if now - self.last < PROGRESS_EVERY:
            return
        rate = (count - self.last_count) / (now - self.last)
        recent = latencies[-1000:]
        lat = f", {sum(recent) / len(recent):.1f} ms avg latency" if recent else ""
        print(
            f"{count} records {self.what}, {rate:,.0f} records/s ({rate * self.size / 1e6:.2f} MB/s){lat}",
            file=sys.stderr,
            flush=True,
        )
        self.last, self.last_count = now, count

    def result(self, count: int, nbytes: int, latencies: list[float], **extra: object) -> dict:
        elapsed = time.perf_counter() - self.start
        return {
            "records": count,
            "seconds": round(elapsed, 3),
            "records_per_sec": round(count / elapsed, 1),
            "mb_per_sec": round(nbytes / elapsed / 1e6, 2),
            "latency_ms": percentiles(latencies),
            **extra,
        }


async def perf_produce(args: argparse.Namespace) -> int:
    value = os.urandom(args.record_size)
    latencies: list[float] = []
    progress = _Progress("sent", args.record_size)
    idempotence = None if args.idempotence is None else args.idempotence == "on"
    async with AsyncProducer(
        args.bootstrap,
        **security_settings(args),
        acks=args.acks,
        batch_size=args.batch_size,
        linger_ms=args.linger_ms,
        enable_idempotence=idempotence,
        client_id="pybroker-perf-producer",
    ) as producer:
        await producer.partitions_for(args.topic)
        progress = _Progress("sent", args.record_size)
        send = producer.send
        for i in range(args.num_records):
            future = await send(args.topic, value, key=b"k%d" % i if args.keyed else None)
            if i % SAMPLE_EVERY == 0:
                sent_at = time.perf_counter()
                future.add_done_callback(functools.partial(_note_latency, latencies, sent_at))
                progress.maybe_print(i, latencies)
                await _pace(args.throughput, i, progress.start)
        await producer.flush()
    _emit(
        progress.result(
            args.num_records,
            args.num_records * args.record_size,
            latencies,
            acks=args.acks,
            idempotent=producer.idempotent,
            record_size=args.record_size,
            client="async",
            keyed=args.keyed,
        )
    )
    return 0


def perf_produce_sync(args: argparse.Namespace) -> int:
    """perf_produce through the sync Producer, from plain Python: what scripts run."""
    value = os.urandom(args.record_size)
    latencies: list[float] = []
    idempotence = None if args.idempotence is None else args.idempotence == "on"
    with Producer(
        args.bootstrap,
        **security_settings(args),
        acks=args.acks,
        batch_size=args.batch_size,
        linger_ms=args.linger_ms,
        enable_idempotence=idempotence,
        client_id="pybroker-perf-producer",
    ) as producer:
        producer.partitions_for(args.topic)
        progress = _Progress("sent", args.record_size)
        for i in range(args.num_records):
            future = producer.send(args.topic, value, key=b"k%d" % i if args.keyed else None)
            if i % SAMPLE_EVERY == 0:
                sent_at = time.perf_counter()
                future.add_done_callback(functools.partial(_note_latency, latencies, sent_at))
                progress.maybe_print(i, latencies)
                if args.throughput > 0:
                    ahead = i / args.throughput - (time.perf_counter() - progress.start)
                    if ahead > 0:
                        time.sleep(ahead)
        producer.flush()
        idempotent = producer._async.idempotent
    _emit(
        progress.result(
            args.num_records,
            args.num_records * args.record_size,
            latencies,
            acks=args.acks,
            idempotent=idempotent,
            record_size=args.record_size,
            client="sync",
            keyed=args.keyed,
        )
    )
    return 0


async def _pace(throughput: float, sent: int, start: float) -> None:
    if throughput > 0:
        ahead = sent / throughput - (time.perf_counter() - start)
        if ahead > 0:
            await asyncio.sleep(ahead)
    else:
        await asyncio.sleep(0)  # let the sender run between bursts


async def perf_consume(args: argparse.Namespace) -> int:
    poll_ms: list[float] = []
    count = nbytes = 0
    async with AsyncConsumer(
        args.bootstrap,
        **security_settings(args),
        auto_offset_reset="earliest",
        max_poll_records=100_000,
        max_partition_fetch_bytes=args.fetch_size,
        client_id="pybroker-perf-consumer",
    ) as consumer:
        partitions = await consumer.partitions_for_topic(args.topic)
        consumer.assign([TopicPartition(args.topic, p) for p in partitions])
        progress = _Progress("consumed", 0)
        while count < args.num_records:
            t0 = time.perf_counter()
            records = await consumer.poll(timeout_ms=10_000)
            poll_ms.append((time.perf_counter() - t0) * 1000)
            if not records:
                print(
                    f"error: no records for 10 s after {count}; does {args.topic} hold {args.num_records} records?",
                    file=sys.stderr,
                )
                return 1
            count += len(records)
            nbytes += sum(len(r.value) for r in records if r.value is not None)
            progress.size = nbytes / count
            progress.maybe_print(count, [])
    _emit(progress.result(count, nbytes, [], poll_latency_ms=percentiles(poll_ms)))
    return 0


async def perf_e2e(args: argparse.Namespace) -> int:
    padding = os.urandom(max(0, args.record_size - _STAMP.size))
    latencies: list[float] = []
    async with (
        AsyncProducer(
            args.bootstrap,
            **security_settings(args),
            acks=args.acks,
            linger_ms=args.linger_ms,
            client_id="pybroker-perf-e2e",
        ) as producer,
        AsyncConsumer(
            args.bootstrap,
            **security_settings(args),
            auto_offset_reset="latest",
            fetch_max_wait_ms=100,
            client_id="pybroker-perf-e2e",
        ) as consumer,
    ):
        partitions = await consumer.partitions_for_topic(args.topic)
        tps = [TopicPartition(args.topic, p) for p in partitions]
        consumer.assign(tps)
        for tp in tps:
            await consumer.position(tp)
        progress = _Progress("round trips", args.record_size)
        reader = asyncio.ensure_future(_read_stamps(consumer, args.num_records, latencies, progress))
        start = time.perf_counter()
        for i in range(args.num_records):
            ahead = i / args.throughput - (time.perf_counter() - start)
            if ahead > 0:
                await asyncio.sleep(ahead)
            await producer.send(args.topic, _STAMP.pack(time.perf_counter_ns()) + padding)
        await producer.flush()
        await asyncio.wait_for(reader, 30)
    _emit(progress.result(len(latencies), len(latencies) * args.record_size, latencies, target_rate=args.throughput))
    return 0


async def _read_stamps(consumer: AsyncConsumer, n: int, latencies: list[float], progress: _Progress) -> None:
    while len(latencies) < n:
        for r in await consumer.poll(timeout_ms=1000):
            latencies.append((time.perf_counter_ns() - _STAMP.unpack_from(r.value)[0]) / 1e6)
        progress.maybe_print(len(latencies), latencies)


def _emit(result: dict) -> None:
    print(json.dumps(result), flush=True)
