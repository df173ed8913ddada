"""The counters and histograms that request handling moves, in one Prometheus registry.

Each hook is called once per request, per partition of a request, or per ISR change:
never per record (a batch's record count comes from its offsets). Labelled children are
cached in plain dicts, so a hook costs a dict lookup and a prometheus_client `inc`.
This module must never read broker state; values that state already holds (sizes, ISR,
groups) are the collector's job at scrape time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

from client.protocol.api import ApiKey
from client.protocol.kafka_frames import RequestHeader

# Kafka's request latency histograms are in milliseconds (TotalTimeMs); so are ours.
LATENCY_BUCKETS_MS = (0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


def request_name(api_key: int, body: Any) -> str:
    """Kafka's `request` tag: the API's name in CamelCase, Fetch split into FetchConsumer
    and FetchFollower as Kafka's RequestMetrics does."""
    try:
        name = "".join(word.capitalize() for word in ApiKey(api_key).name.split("_"))
    except ValueError:
        return f"Unknown{api_key}"
    if api_key == ApiKey.FETCH:
        return "FetchFollower" if getattr(body, "replica_id", -1) >= 0 else "FetchConsumer"
    return name


class BrokerMetrics:
    """The broker's registry and the instruments its hooks move."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        prefix = "kafka_server_brokertopicmetrics_"
        self._messages_in = Counter(prefix + "messagesin", "Records appended as leader, per topic",
                                    ["topic"], registry=r)
        self._bytes_in = Counter(prefix + "bytesin", "Record batch bytes produced to this broker, per topic",
                                 ["topic"], registry=r)
        self._bytes_out = Counter(prefix + "bytesout", "Record bytes sent to consumers, per topic",
                                  ["topic"], registry=r)
        self._replication_bytes_out = Counter(prefix + "replicationbytesout", "Record bytes sent to followers",
                                              registry=r)
        self._produce_requests = Counter(prefix + "totalproducerequests", "Produce requests naming the topic",
                                         ["topic"], registry=r)
        self._fetch_requests = Counter(prefix + "totalfetchrequests", "Consumer Fetch requests naming the topic",
                                       ["topic"], registry=r)
        self._failed_produce = Counter(prefix + "failedproducerequests",
                                       "Produce partition entries answered with an error, per topic",
                                       ["topic"], registry=r)
        self._latency = Histogram("kafka_network_requestmetrics_totaltimems",
                                  "Time from a request's arrival to its handler's answer, ms, per API",
                                  ["request"], registry=r, buckets=LATENCY_BUCKETS_MS)
        self._isr_shrinks = Counter("kafka_server_replicamanager_isrshrinks", "ISR shrinks proposed as leader",
                                    registry=r)
        self._isr_expands = Counter("kafka_server_replicamanager_isrexpands", "ISR expands proposed as leader",
                                    registry=r)
        self._children: dict[tuple[int, str], Any] = {}

    def _child(self, which: int, metric: Any, label: str) -> Any:
        key = (which, label)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(label)
        return child

    # -- hooks ---------------------------------------------------------------------------

    def time_request(self, header: RequestHeader, body: Any, task: asyncio.Future) -> None:
        """Observe the request's latency when its handler's task completes."""
        child = self._child(0, self._latency, request_name(header.api_key, body))
        start = time.perf_counter()
        task.add_done_callback(lambda _: child.observe((time.perf_counter() - start) * 1000.0))

    def produced(self, topic: str, records: int, size: int) -> None:
        """One partition's batches appended as leader: `records` offsets, `size` bytes."""
        self._child(1, self._messages_in, topic).inc(records)
        self._child(2, self._bytes_in, topic).inc(size)

    def produce_request(self, topic: str, failed: int) -> None:
        """A Produce request named `topic`; `failed` of its partition entries were refused."""
        self._child(3, self._produce_requests, topic).inc()
        if failed:
            self._child(4, self._failed_produce, topic).inc(failed)

    def fetched(self, topic: str, size: int, follower: bool) -> None:
        """A Fetch response carries `size` record bytes of `topic`."""
        if follower:
            self._replication_bytes_out.inc(size)
        else:
            self._child(5, self._fetch_requests, topic).inc()
            if size:
                self._child(6, self._bytes_out, topic).inc(size)

    def isr_changed(self, old_size: int, new_size: int) -> None:
        if new_size < old_size:
            self._isr_shrinks.inc()
        elif new_size > old_size:
            self._isr_expands.inc()

    def exposition(self) -> bytes:
        """Everything registered, in Prometheus' text format."""
        return generate_latest(self.registry)
