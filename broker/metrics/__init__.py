"""A broker's Prometheus metrics: the hot-path instruments and the scrape-time collector.

`instruments.BrokerMetrics` holds the counters and histograms request handling moves
(per request or per batch, never per record); `collector.BrokerStateCollector` reads
gauges (log sizes, ISR state, group states, lag) from the broker's live state only when
Prometheus scrapes. Names follow Kafka's JMX names as the Prometheus JMX exporter maps
them (docs/operations.md lists each with its JMX name). Nothing here may block, await or
allocate per record on the request path.
"""

from broker.metrics.instruments import BrokerMetrics

__all__ = ["BrokerMetrics"]
