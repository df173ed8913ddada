"""Topic auto-creation with Kafka's defaults (auto.create.topics.enable=true,
num.partitions=1): a produce to a missing topic creates it with one partition, from
every client. A Metadata request that says allow_auto_topic_creation=false (what
consumers send) creates nothing."""

from __future__ import annotations

import time

import pytest

from tests.kafka_clients.conftest import needs
from tests.kafka_clients.drivers import CLIENTS, load
from tests.kafka_clients.kwire import API_METADATA, RawConn, metadata_v4_body, parse_metadata_v4_topics
from tests.kafka_clients.records import Record
from tests.kafka_clients.servers import Broker, unique_topic
from tests.support.waiting import wait_until

UNKNOWN_TOPIC_OR_PARTITION = 3


def partitions_of(bootstrap: str, topic: str) -> list[int]:
    """The topic's partitions as a Metadata v4 that may not create it reports them."""
    with RawConn(bootstrap) as conn:
        [(name, error, partitions)] = parse_metadata_v4_topics(
            conn.call(API_METADATA, 4, metadata_v4_body([topic], allow_auto_create=False))
        )
    assert name == topic
    return [] if error == UNKNOWN_TOPIC_OR_PARTITION else sorted(partitions)


@pytest.mark.parametrize(
    "writer",
    [
        pytest.param(c, marks=needs(c))
        for c in CLIENTS
        if c != "confluent-debian" and c != "kafka-python-2" and c != "pybroker"
    ],
)  # ours never auto-creates
def test_produce_to_a_missing_topic_creates_it_with_one_partition(kafka_node: Broker, writer: str) -> None:
    topic = unique_topic(f"auto-{writer}")
    assert partitions_of(kafka_node.bootstrap, topic) == []
    # no explicit partition: the client learns the topic's partitions from the metadata
    # that created it (kcat and the drivers' produce take a partition, so give 0, the only one)
    acked = load(writer).produce(kafka_node.bootstrap, topic, [Record(0, b"k", b"first")], timeout=90)
    assert len(acked) == 1 and acked[0].offset in (0, None), acked
    assert partitions_of(kafka_node.bootstrap, topic) == [0]
    got = load(writer).consume(kafka_node.bootstrap, topic, {0: 1}, timeout=90)
    assert [(r.offset, r.key, r.value) for r in got] == [(0, b"k", b"first")], got


def test_metadata_without_auto_create_creates_nothing(kafka_node: Broker) -> None:
    topic = unique_topic("not-created")
    for _ in range(2):
        assert partitions_of(kafka_node.bootstrap, topic) == []
        time.sleep(0.5)


def test_metadata_with_auto_create_creates_one_partition(kafka_node: Broker) -> None:
    topic = unique_topic("created-by-metadata")
    with RawConn(kafka_node.bootstrap) as conn:
        conn.call(API_METADATA, 4, metadata_v4_body([topic], allow_auto_create=True))
    wait_until(
        f"{topic} created with one partition by a Metadata request that may create it",
        lambda: partitions_of(kafka_node.bootstrap, topic) == [0],
        30,
    )
