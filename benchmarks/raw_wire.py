"""Broker-side ceiling, without the client library: pipelined Produce of pre-built
batches, then back-to-back 8 MiB Fetches whose record bytes are not decoded.

Usage (against a running node): PYTHONPATH=$PWD python benchmarks/raw_wire.py PORT
It creates topic `raw-bench` (it must not exist). Not part of the test suite.
"""

from __future__ import annotations

import sys
import time

from client.protocol.api import ApiKey
from client.protocol.record_batch import build_batch, iter_batches
from tests.broker_server.wire import WireClient, create_topic, fetch, produce_request

BATCHES, RECORDS_PER_BATCH, IN_FLIGHT = 2000, 1000, 50


def main(port: int) -> None:
    c = WireClient(port, timeout=60)
    assert create_topic(c, "raw-bench").error_code == 0, "topic raw-bench exists already: use a fresh node"
    batch = build_batch([(None, b"x" * 100, None, i) for i in range(RECORDS_PER_BATCH)])
    request = produce_request("raw-bench", 0, batch)
    started, sent, received = time.perf_counter(), [], 0
    while received < BATCHES:
        while len(sent) < BATCHES and len(sent) - received < IN_FLIGHT:
            sent.append(c.send(ApiKey.PRODUCE, request))
        assert c.receive(sent[received]).responses[0].partition_responses[0].error_code == 0
        received += 1
    elapsed = time.perf_counter() - started
    records = BATCHES * RECORDS_PER_BATCH
    print(
        f"produce: {records / elapsed:,.0f} records/s, {BATCHES * len(batch) / elapsed / 1e6:,.1f} MB/s "
        f"(batches of {RECORDS_PER_BATCH} x 100 B, {IN_FLIGHT} in flight, acks=1)"
    )
    offset, total, started = 0, 0, time.perf_counter()
    while offset < records:
        _, tail = fetch(c, "raw-bench", 0, offset, max_bytes=8 << 20, partition_max_bytes=8 << 20)
        offset = list(iter_batches(tail))[-1].last_offset + 1
        total += len(tail)
    elapsed = time.perf_counter() - started
    print(
        f"fetch: {records / elapsed:,.0f} records/s, {total / elapsed / 1e6:,.1f} MB/s "
        "(8 MiB fetches one at a time, records not decoded)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
