"""The counters and histograms that request handling moves, in one Prometheus registry.

Each hook is called once per request, per partition of a request, or per ISR change:
never per record (a batch's record count comes from its offsets). Counters are plain
ints in dicts (a hook is a dict update, no lock: the broker is one event loop), turned
into Prometheus counters only when scraped; the latency and log flush histograms are
prometheus_client's (which lock: log flushes are observed from the worker thread that ran them).
This module must never read broker state; values that state already holds (sizes, ISR,
groups) are the collector's job at scrape time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from client.protocol.api import ApiKey
from client.protocol.kafka_frames import RequestHeader

# Kafka's request latency histograms are in milliseconds (TotalTimeMs); so are ours.
LATENCY_BUCKETS_MS = (0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
# An fsync takes from tens of microseconds (page cache on a fast SSD) to seconds (a busy disk).
FLUSH_BUCKETS_MS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


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


_FETCH = int(ApiKey.FETCH)
_FETCH_FOLLOWER = -1  # not an API key: the latency child of followers' fetches

# Per-topic counters: (metric name, help). Kept as plain ints (an increment is a dict
# update, no lock) and exposed by `_TopicCounters` at scrape time.
TOPIC_COUNTERS = {
    "messagesin": ("kafka_server_brokertopicmetrics_messagesin", "Records appended as leader, per topic"),
    "bytesin": ("kafka_server_brokertopicmetrics_bytesin", "Record batch bytes produced to this broker, per topic"),
    "bytesout": ("kafka_server_brokertopicmetrics_bytesout", "Record bytes sent to consumers, per topic"),
    "totalproducerequests": (
        "kafka_server_brokertopicmetrics_totalproducerequests",
        "Produce requests naming the topic",
    ),
    "totalfetchrequests": (
        "kafka_server_brokertopicmetrics_totalfetchrequests",
        "Consumer Fetch requests naming the topic",
    ),
    "failedproducerequests": (
        "kafka_server_brokertopicmetrics_failedproducerequests",
        "Produce partition entries answered with an error, per topic",
    ),
}
PLAIN_COUNTERS = {
    "replicationbytesout": ("kafka_server_brokertopicmetrics_replicationbytesout", "Record bytes sent to followers"),
    "isrshrinks": ("kafka_server_replicamanager_isrshrinks", "ISR shrinks proposed as leader"),
    "isrexpands": ("kafka_server_replicamanager_isrexpands", "ISR expands proposed as leader"),
}


class _Counts(Collector):
    """Exposes the plain-int counters of a `BrokerMetrics` when scraped."""

    def __init__(self, metrics: BrokerMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for key, (name, doc) in TOPIC_COUNTERS.items():
            family = CounterMetricFamily(name, doc, labels=["topic"])
            for topic, value in sorted(self.metrics.topic_counts[key].items()):
                family.add_metric([topic], value)
            yield family
        for key, (name, doc) in PLAIN_COUNTERS.items():
            yield CounterMetricFamily(name, doc, value=self.metrics.counts[key])


class BrokerMetrics:
    """The broker's registry and the instruments its hooks move."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.topic_counts: dict[str, dict[str, int]] = {key: {} for key in TOPIC_COUNTERS}
        self.counts: dict[str, int] = dict.fromkeys(PLAIN_COUNTERS, 0)
        c = self.topic_counts
        self._messages_in, self._bytes_in, self._bytes_out = c["messagesin"], c["bytesin"], c["bytesout"]
        self._produce_requests, self._fetch_requests = c["totalproducerequests"], c["totalfetchrequests"]
        self._failed_produce = c["failedproducerequests"]
        self.registry.register(_Counts(self))
        self._latency = Histogram(
            "kafka_network_requestmetrics_totaltimems",
            "Time from a request's arrival to its handler's answer, ms, per API",
            ["request"],
            registry=self.registry,
            buckets=LATENCY_BUCKETS_MS,
        )
        self._latency_children: dict[int, Any] = {}
        self._flush_time = Histogram(
            "kafka_log_logflushstats_logflushrateandtimems",
            "Time of each partition log flush that fsynced data, ms",
            registry=self.registry,
            buckets=FLUSH_BUCKETS_MS,
        )

    # -- hooks ---------------------------------------------------------------------------

    def time_request(self, header: RequestHeader, body: Any, task: asyncio.Future) -> None:
        """Observe the request's latency when its handler's task completes."""
        key = header.api_key  # the histogram child by API key: naming a request costs 4 us, a lookup 0.1
        if key == _FETCH and getattr(body, "replica_id", -1) >= 0:
            key = _FETCH_FOLLOWER
        child = self._latency_children.get(key)
        if child is None:
            child = self._latency_children[key] = self._latency.labels(request_name(header.api_key, body))
        start = time.perf_counter()
        task.add_done_callback(lambda _: child.observe((time.perf_counter() - start) * 1000.0))

    def produced(self, topic: str, records: int, size: int) -> None:
        """One partition's batches appended as leader: `records` offsets, `size` bytes."""
        self._messages_in[topic] = self._messages_in.get(topic, 0) + records
        self._bytes_in[topic] = self._bytes_in.get(topic, 0) + size

    def produce_request(self, topic: str, failed: int) -> None:
        """A Produce request named `topic`; `failed` of its partition entries were refused."""
        self._produce_requests[topic] = self._produce_requests.get(topic, 0) + 1
        if failed:
            self._failed_produce[topic] = self._failed_produce.get(topic, 0) + failed

    def fetched(self, topic: str, size: int, follower: bool) -> None:
        """A Fetch response carries `size` record bytes of `topic`."""
        if follower:
            self.counts["replicationbytesout"] += size
        else:
            self._fetch_requests[topic] = self._fetch_requests.get(topic, 0) + 1
            if size:
                self._bytes_out[topic] = self._bytes_out.get(topic, 0) + size

    def isr_changed(self, old_size: int, new_size: int) -> None:
        if new_size < old_size:
            self.counts["isrshrinks"] += 1
        elif new_size > old_size:
            self.counts["isrexpands"] += 1

    def log_flushed(self, ms: float) -> None:
        """One partition log flush fsynced data in `ms` milliseconds (any thread)."""
        self._flush_time.observe(ms)

    def exposition(self) -> bytes:
        """Everything registered, in Prometheus' text format."""
        return generate_latest(self.registry)
