"""Gauges read from the broker's live state when Prometheus scrapes, never on the request path.

Partition counts, ISR health, log sizes and offsets, the controller's view, connection and
queue sizes, group counts by state, rebalances and consumer lag are all values the broker
already holds; computing them at scrape time costs the request path nothing. Names are
Kafka's JMX names mapped as the JMX exporter does (docs/operations.md). This module must
never change broker state or await anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from broker.groups.messages import GroupState
from broker.metrics.lag import group_lags, owned_groups

_GROUP_STATE_NAMES = {
    GroupState.STABLE: "numgroupsstable",
    GroupState.PREPARING_REBALANCE: "numgroupspreparingrebalance",
    GroupState.COMPLETING_REBALANCE: "numgroupscompletingrebalance",
    GroupState.EMPTY: "numgroupsempty",
    GroupState.DEAD: "numgroupsdead",
}


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


class BrokerStateCollector(Collector):
    """Yields the scrape-time metrics of one running `broker.server.broker.Broker`."""

    def __init__(self, broker: Any) -> None:
        self.broker = broker

    def collect(self) -> Iterator[Metric]:
        yield from self._replicas()
        yield from self._controller()
        yield from self._network()
        yield from self._groups()

    def _replicas(self) -> Iterator[Metric]:
        parts = [p for p in list(self.broker.replicas.partitions.values()) if not p.stopped]
        leading = [p for p in parts if p.is_leader]
        rm = "kafka_server_replicamanager_"
        yield _gauge(rm + "partitioncount", "Partitions this broker hosts a replica of", len(parts))
        yield _gauge(rm + "leadercount", "Partitions this broker leads", len(leading))
        yield _gauge(
            rm + "underreplicatedpartitions",
            "Partitions led here whose ISR is smaller than their replicas",
            sum(1 for p in leading if len(p.isr) < len(p.replicas)),
        )
        yield _gauge(
            rm + "underminisrpartitioncount",
            "Partitions led here whose ISR is below min.insync.replicas",
            sum(1 for p in leading if len(p.isr) < p.replica.min_insync_replicas),
        )
        size = GaugeMetricFamily(
            "kafka_log_log_size", "Bytes of the partition's log segments", labels=["topic", "partition"]
        )
        end = GaugeMetricFamily(
            "kafka_log_log_logendoffset", "The partition's log end offset", labels=["topic", "partition"]
        )
        start = GaugeMetricFamily(
            "kafka_log_log_logstartoffset", "The partition's log start offset", labels=["topic", "partition"]
        )
        hw = GaugeMetricFamily(
            "kafka_cluster_partition_highwatermark", "The partition's high watermark", labels=["topic", "partition"]
        )
        for p in parts:
            labels = [p.topic, str(p.partition)]
            size.add_metric(labels, p.log.size_bytes)
            end.add_metric(labels, p.log.log_end_offset)
            start.add_metric(labels, p.log.log_start_offset)
            hw.add_metric(labels, p.high_watermark)
        yield from (size, end, start, hw)

    def _controller(self) -> Iterator[Metric]:
        broker, cache = self.broker, self.broker.cache
        controller = broker.ctx.controller if broker.ctx is not None else None
        active = controller is not None and controller.active
        kc = "kafka_controller_kafkacontroller_"
        yield _gauge(kc + "activecontrollercount", "1 on the active controller, else 0", int(active))
        yield _gauge(
            kc + "controllerepoch",
            "The newest controller epoch this broker has heard from",
            max(broker.replicas.controller_epoch, controller.epoch if controller is not None and active else -1),
        )
        if active:  # as in Kafka, only the active controller reports cluster-wide counts
            live = set(cache.brokers)
            states = [s for meta in list(cache.topics.values()) for s in meta.states.values()]
            yield _gauge(
                kc + "offlinepartitionscount",
                "Partitions without a live leader",
                sum(1 for s in states if s.leader not in live),
            )
            yield _gauge(kc + "activebrokercount", "Brokers registered in coord", len(live))
            yield _gauge(kc + "globalpartitioncount", "Partitions in the cluster", len(states))
            yield _gauge(kc + "globaltopiccount", "Topics in the cluster", len(cache.topics))
        elections = CounterMetricFamily(
            "kafka_controller_controllerstats_leaderelections",
            "Partitions given a new leader while this broker was controller",
        )
        elections.add_metric([], controller.leader_elections if controller is not None else 0)
        yield elections

    def _network(self) -> Iterator[Metric]:
        connections = self.broker.connections
        yield _gauge(
            "kafka_server_socketservermetrics_connection_count", "Open client and broker connections", len(connections)
        )
        yield _gauge(
            "kafka_network_requestchannel_requestqueuesize",
            "Requests read and not yet answered",
            sum(c.queued for c in connections),
        )

    def _groups(self) -> Iterator[Metric]:
        groups = owned_groups(self.broker.groups)
        gm = "kafka_coordinator_group_groupmetadatamanager_"
        yield _gauge(gm + "numgroups", "Groups this broker coordinates", len(groups))
        for state, name in _GROUP_STATE_NAMES.items():
            yield _gauge(
                gm + name,
                f"Groups this broker coordinates in state {state.value}",
                sum(1 for g in groups if g.state is state),
            )
        yield _gauge(
            gm + "numoffsets", "Committed offsets held by this coordinator", sum(len(g.offsets) for g in groups)
        )
        rebalances = CounterMetricFamily(
            "kafka_server_group_coordinator_metrics_group_completed_rebalance",
            "Generations begun by the groups this broker coordinates",
        )
        rebalances.add_metric([], sum(g.generation_id for g in groups))
        yield rebalances
        lag = GaugeMetricFamily(
            "kafka_consumergroup_lag",
            "High watermark minus committed offset",
            labels=["consumergroup", "topic", "partition"],
        )
        for entry in group_lags(self.broker.groups, self.broker.replicas):
            lag.add_metric([entry.group, entry.topic, str(entry.partition)], entry.lag)
        yield lag
