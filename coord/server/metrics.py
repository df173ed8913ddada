"""coord's Prometheus metrics, named as ZooKeeper 3.8's PrometheusMetricsProvider names them.

A scrape reads the live server (`serverinfo.monitor`, the rows `mntr` prints) through a
custom Collector: nothing is copied into a second set of counters that could drift.
Names carry no prefix and their help text is the name, as ZooKeeper's provider does;
`readlatency` and `updatelatency` are summaries with ZooKeeper's quantiles (0.5, 0.9,
0.99), computed over the last `serverinfo.WINDOW` requests. The process metrics
(`process_*`) come from the client library, as ZooKeeper's `exportJvmInfo` adds them.

One metric is ours, not ZooKeeper's (its provider has no string gauges):
`server_state{state="leader"} 1`, named after mntr's `zk_server_state` row.

This module must never change server state, and never invent another name without
adding it to `OURS` and to docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from coord.server import serverinfo as info
from coord.server.clock import mono_ms

# The mntr rows ZooKeeper's provider exports as gauges (ZooKeeperServer.registerMetrics,
# QuorumZooKeeperServer, LeaderZooKeeperServer); rows not present on this server (the
# leader's, on a follower) are left out, as ZooKeeper unregisters them.
GAUGES = (
    "avg_latency",
    "max_latency",
    "min_latency",
    "packets_received",
    "packets_sent",
    "num_alive_connections",
    "outstanding_requests",
    "uptime",
    "znode_count",
    "watch_count",
    "ephemerals_count",
    "approximate_data_size",
    "global_sessions",
    "local_sessions",
    "open_file_descriptor_count",
    "max_file_descriptor_count",
    "connection_drop_probability",
    "last_client_response_size",
    "max_client_response_size",
    "min_client_response_size",
    "auth_failed_count",
    "quorum_size",
    "learners",
    "synced_followers",
    "synced_non_voting_followers",
    "synced_observers",
    "pending_syncs",
)
SUMMARIES = ("readlatency", "updatelatency")
QUANTILES = (0.5, 0.9, 0.99)  # ZooKeeper's for DetailLevel.ADVANCED summaries
OURS = ("server_state",)


class CoordCollector(Collector):
    """Everything ZooKeeper-named, read from `src` at scrape time."""

    def __init__(self, src: info.Source) -> None:
        self.src = src

    def collect(self) -> Iterator[Metric]:
        rows = info.monitor(self.src, mono_ms())
        for name in GAUGES:
            if name in rows:
                yield GaugeMetricFamily(name, name, value=float(rows[name]))
        stats = self.src.stats
        for name, summary in (("readlatency", stats.read_latency), ("updatelatency", stats.update_latency)):
            family = SummaryMetricFamily(name, name, count_value=summary.count, sum_value=summary.total)
            for q, value in summary.quantiles(QUANTILES):
                family.add_sample(name, {"quantile": str(q)}, value)
            yield family
        state = GaugeMetricFamily("server_state", "server_state", labels=["state"])
        state.add_metric([str(rows["server_state"])], 1.0)
        yield state


def registry_for(src: info.Source) -> CollectorRegistry:
    """A registry of one server's metrics (its own, so two servers in one process, as
    in tests, never share or clash)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CoordCollector(src))
    ProcessCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The Prometheus text format of everything in `registry`, as of now."""
    return generate_latest(registry)
