"""Admin operations through librdkafka's AdminClient and kafka-python's KafkaAdminClient:
create and delete topics, create partitions, describe configs, list and describe groups,
list committed offsets, delete records. Then ListOffsets by timestamp, which must be
record-precise: the first offset whose record has a timestamp at or after the target,
found inside a batch, not the batch's first offset."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.kafka_clients.conftest import needs
from tests.kafka_clients.drivers import load
from tests.kafka_clients.kwire import API_FETCH, RawConn, fetch_body, parse_batches, parse_fetch_v4
from tests.kafka_clients.records import Record
from tests.kafka_clients.servers import Broker, unique_topic
from tests.support.waiting import wait_until

TIMEOUT = 60.0


@contextmanager
def confluent_member(bootstrap: str, group: str, topic: str, partitions: int) -> Iterator[Any]:
    """A live confluent-kafka group member owning all of `topic`, that committed offset
    p + 1 for each partition p."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": "admin-test-member",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 30000,
        }
    )
    try:
        c.subscribe([topic])

        def assigned() -> bool:
            c.poll(0.2)  # rebalance callbacks run inside poll
            return len(c.assignment()) == partitions

        wait_until(f"{group}'s member to be assigned {topic}", assigned)
        c.commit(offsets=[TopicPartition(topic, p, p + 1) for p in range(partitions)], asynchronous=False)
        yield c
    finally:
        c.close()


# --- confluent-kafka (librdkafka) ----------------------------------------------------


@needs("confluent")
def test_confluent_admin_creates_alters_and_deletes_topics(kafka_node: Broker) -> None:
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewPartitions, NewTopic

    admin = AdminClient({"bootstrap.servers": kafka_node.bootstrap})
    name = unique_topic("admin-c")
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1, config={"retention.ms": "123456789"})])[
        name
    ].result(TIMEOUT)
    wait_until("2 partitions", lambda: len(admin.list_topics(name, timeout=10).topics[name].partitions) == 2)

    with pytest.raises(KafkaException) as again:
        admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])[name].result(TIMEOUT)
    assert again.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS, again.value

    configs = admin.describe_configs([ConfigResource("topic", name)])
    entries = next(iter(configs.values())).result(TIMEOUT)
    assert entries["retention.ms"].value == "123456789", entries["retention.ms"]
    source = entries["retention.ms"].source
    assert getattr(source, "value", source) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value, source
    assert not entries["retention.ms"].is_default
    assert entries["cleanup.policy"].value == "delete", entries["cleanup.policy"]

    admin.create_partitions([NewPartitions(name, 5)])[name].result(TIMEOUT)
    wait_until("5 partitions", lambda: len(admin.list_topics(name, timeout=10).topics[name].partitions) == 5)
    with pytest.raises(KafkaException) as fewer:
        admin.create_partitions([NewPartitions(name, 3)])[name].result(TIMEOUT)
    assert fewer.value.args[0].code() == KafkaError.INVALID_PARTITIONS, fewer.value

    admin.delete_topics([name])[name].result(TIMEOUT)
    wait_until(f"{name} to disappear", lambda: name not in admin.list_topics(timeout=10).topics)
    with pytest.raises(KafkaException) as missing:
        admin.delete_topics([name])[name].result(TIMEOUT)
    assert missing.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART, missing.value


@needs("confluent")
def test_confluent_sees_a_new_topic_id_when_a_topic_is_created_again(kafka_node: Broker) -> None:
    # librdkafka tells a re-created topic from the deleted one by its id (Metadata v10+);
    # with none, its producer kept the old partitions' messages queued (librdkafka's 0107).
    from confluent_kafka import TopicCollection
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": kafka_node.bootstrap})
    name = unique_topic("recreate-c")
    zero = "AAAAAAAAAAAAAAAAAAAAAA"  # librdkafka's base64 of 16 zero bytes: no id

    def topic_id() -> str:
        return str(admin.describe_topics(TopicCollection([name]))[name].result(TIMEOUT).topic_id)

    def partitions_are(count: int) -> Callable[[], bool]:
        return lambda: len(admin.list_topics(name, timeout=10).topics[name].partitions) == count

    ids = []
    for partitions in (4, 2):
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(TIMEOUT)
        wait_until(f"{partitions} partitions", partitions_are(partitions))
        ids.append(topic_id())
        admin.delete_topics([name])[name].result(TIMEOUT)
        wait_until(f"{name} to disappear", lambda: name not in admin.list_topics(timeout=10).topics)
    assert zero not in ids and ids[0] != ids[1], ids


@needs("confluent")
def test_confluent_admin_lists_and_describes_groups_and_their_offsets(
    kafka_node: Broker, new_topic: Callable[..., str]
) -> None:
    from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions
    from confluent_kafka.admin import AdminClient

    topic = new_topic("admin-groups", partitions=2)
    group = unique_topic("admin-group")
    admin = AdminClient({"bootstrap.servers": kafka_node.bootstrap})
    with confluent_member(kafka_node.bootstrap, group, topic, 2):
        listed = wait_until(
            f"{group} listed",
            lambda: [g for g in admin.list_consumer_groups().result(TIMEOUT).valid if g.group_id == group],
        )
        # ListGroups v4+ carries the state; librdkafka shows UNKNOWN when it negotiated less
        assert listed[0].state in (ConsumerGroupState.STABLE, ConsumerGroupState.UNKNOWN), listed[0].state
        assert not listed[0].is_simple_consumer_group
        if hasattr(listed[0], "type"):  # ListGroups v5 (confluent-kafka 2.6+): every group is classic
            from confluent_kafka import ConsumerGroupType

            assert listed[0].type == ConsumerGroupType.CLASSIC, listed[0].type
            classic = admin.list_consumer_groups(types={ConsumerGroupType.CLASSIC}).result(TIMEOUT).valid
            assert group in [g.group_id for g in classic]
            kip848 = admin.list_consumer_groups(types={ConsumerGroupType.CONSUMER}).result(TIMEOUT).valid
            assert group not in [g.group_id for g in kip848]
        desc = admin.describe_consumer_groups([group])[group].result(TIMEOUT)
        assert desc.state == ConsumerGroupState.STABLE and desc.partition_assignor == "range", desc
        assert [m.client_id for m in desc.members] == ["admin-test-member"], desc.members
        assert sorted(tp.partition for tp in desc.members[0].assignment.topic_partitions) == [0, 1]
        offsets = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(TIMEOUT)
        assert {(tp.topic, tp.partition, tp.offset) for tp in offsets.topic_partitions} == {
            (topic, 0, 1),
            (topic, 1, 2),
        }, offsets
    desc = wait_until(
        "the group to empty",
        lambda: (
            (d := admin.describe_consumer_groups([group])[group].result(TIMEOUT)).state == ConsumerGroupState.EMPTY
            and d
        ),
    )
    assert desc.members == [], desc


@needs("confluent")
def test_confluent_admin_deletes_records(kafka_node: Broker, new_topic: Callable[..., str]) -> None:
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    topic = new_topic("admin-delrec", partitions=1)
    load("confluent").produce(kafka_node.bootstrap, topic, [Record(0, None, b"v%d" % i) for i in range(10)])
    admin = AdminClient({"bootstrap.servers": kafka_node.bootstrap})
    deleted = admin.delete_records([TopicPartition(topic, 0, 4)])
    assert next(iter(deleted.values())).result(TIMEOUT).low_watermark == 4
    earliest = next(iter(admin.list_offsets({TopicPartition(topic, 0): OffsetSpec.earliest()}).values()))
    assert earliest.result(TIMEOUT).offset == 4
    latest = next(iter(admin.list_offsets({TopicPartition(topic, 0): OffsetSpec.latest()}).values()))
    assert latest.result(TIMEOUT).offset == 10
    got = load("confluent").consume(kafka_node.bootstrap, topic, {0: 6}, timeout=TIMEOUT)
    assert [(r.offset, r.value) for r in got] == [(i, b"v%d" % i) for i in range(4, 10)], got


# --- kafka-python ----------------------------------------------------------------------


@needs("kafka-python")
def test_kafka_python_admin_creates_alters_and_deletes_topics(kafka_node: Broker) -> None:
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=kafka_node.bootstrap)
    try:
        name = unique_topic("admin-kp")
        admin.create_topics(
            {name: {"num_partitions": 2, "replication_factor": 1, "configs": {"retention.ms": "123456789"}}},
            wait_for_metadata=True,
        )
        with pytest.raises(TopicAlreadyExistsError):
            admin.create_topics({name: {"num_partitions": 2, "replication_factor": 1}})
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)], config_filter="all")
        topic_configs = configs["topic"][name]
        assert topic_configs["retention.ms"]["value"] == "123456789", topic_configs["retention.ms"]
        assert topic_configs["retention.ms"]["config_source"] == "DYNAMIC_TOPIC_CONFIG", topic_configs["retention.ms"]
        assert topic_configs["cleanup.policy"]["value"] == "delete", topic_configs["cleanup.policy"]
        admin.create_partitions({name: 4})
        wait_until("4 partitions", lambda: len(admin.describe_topics([name])[0]["partitions"]) == 4)
        admin.delete_topics([name])
        wait_until(f"{name} to disappear", lambda: name not in admin.list_topics())
    finally:
        admin.close()


@needs("kafka-python", "confluent")
def test_kafka_python_admin_lists_and_describes_groups_and_their_offsets(
    kafka_node: Broker, new_topic: Callable[..., str]
) -> None:
    from kafka import TopicPartition
    from kafka.admin import KafkaAdminClient

    topic = new_topic("admin-kp-groups", partitions=2)
    group = unique_topic("admin-kp-group")
    admin = KafkaAdminClient(bootstrap_servers=kafka_node.bootstrap)
    try:
        with confluent_member(kafka_node.bootstrap, group, topic, 2):
            listed = wait_until(f"{group} listed", lambda: [g for g in admin.list_groups() if g["group_id"] == group])
            assert listed[0]["protocol_type"] == "consumer", listed
            desc = admin.describe_groups([group])[group]
            assert desc["group_state"] == "Stable" and desc["protocol_data"] == "range", desc
            assert [m["client_id"] for m in desc["members"]] == ["admin-test-member"], desc
            offsets = admin.list_group_offsets({group: None})[group]
            assert {tp: om.offset for tp, om in offsets.items()} == {
                TopicPartition(topic, 0): 1,
                TopicPartition(topic, 1): 2,
            }, offsets
    finally:
        admin.close()


@needs("kafka-python", "confluent")
def test_kafka_python_admin_deletes_records(kafka_node: Broker, new_topic: Callable[..., str]) -> None:
    from kafka import TopicPartition
    from kafka.admin import KafkaAdminClient

    topic = new_topic("admin-kp-delrec", partitions=1)
    load("confluent").produce(kafka_node.bootstrap, topic, [Record(0, None, b"v%d" % i) for i in range(10)])
    admin = KafkaAdminClient(bootstrap_servers=kafka_node.bootstrap)
    try:
        result = admin.delete_records({TopicPartition(topic, 0): 7})
        assert result[TopicPartition(topic, 0)]["low_watermark"] == 7, result
    finally:
        admin.close()
    got = load("kafka-python").consume(kafka_node.bootstrap, topic, {0: 3}, timeout=TIMEOUT)
    assert [(r.offset, r.value) for r in got] == [(i, b"v%d" % i) for i in range(7, 10)], got


# --- ListOffsets by timestamp ------------------------------------------------------------

DELTAS = [0, 10, 20, 30, 60, 50, 40, 70, 80, 90]  # CreateTime - base, per offset: not monotonic


def first_at_or_after(target_delta: int) -> int | None:
    return next((i for i, d in enumerate(DELTAS) if d >= target_delta), None)


QUERIES = [-1000, 0, 5, 20, 35, 55, 65, 90, 91]


@pytest.fixture
def one_batch(kafka_node: Broker, new_topic: Callable[..., str]) -> tuple[str, int]:
    """A 1-partition topic holding one batch of 10 records with the CreateTimes DELTAS."""
    topic = new_topic("by-time", partitions=1)
    base = int(time.time() * 1000) - 60_000
    load("confluent").produce(
        kafka_node.bootstrap,
        topic,
        [Record(0, b"k", b"v%d" % i, timestamp=base + d) for i, d in enumerate(DELTAS)],
        config={"linger.ms": 500, "batch.num.messages": 1000},
    )
    with RawConn(kafka_node.bootstrap) as conn:
        error, hw, data = parse_fetch_v4(conn.call(API_FETCH, 4, fetch_body(topic, 0)))
    assert (error, hw, len(parse_batches(data))) == (0, 10, 1), "the 10 records should sit in one batch"
    return topic, base


@needs("confluent")
def test_confluent_offsets_for_times_is_record_precise(kafka_node: Broker, one_batch: tuple[str, int]) -> None:
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    topic, base = one_batch
    c = Consumer({"bootstrap.servers": kafka_node.bootstrap, "group.id": "by-time"})
    admin = AdminClient({"bootstrap.servers": kafka_node.bootstrap})
    try:
        for q in QUERIES:
            want = first_at_or_after(q)
            [found] = c.offsets_for_times([TopicPartition(topic, 0, base + q)], timeout=TIMEOUT)
            assert found.error is None and found.offset == (-1 if want is None else want), (q, found)
            listed = next(
                iter(admin.list_offsets({TopicPartition(topic, 0): OffsetSpec.for_timestamp(base + q)}).values())
            ).result(TIMEOUT)
            assert listed.offset == (-1 if want is None else want), (q, listed)
            if want is not None:
                assert listed.timestamp == base + DELTAS[want], (q, listed)
    finally:
        c.close()


@needs("kafka-python")
def test_kafka_python_offsets_for_times_is_record_precise(kafka_node: Broker, one_batch: tuple[str, int]) -> None:
    from kafka import KafkaConsumer, TopicPartition

    topic, base = one_batch
    c = KafkaConsumer(bootstrap_servers=kafka_node.bootstrap)
    try:
        tp = TopicPartition(topic, 0)
        for q in QUERIES:
            want = first_at_or_after(q)
            found = c.offsets_for_times({tp: base + q})[tp]
            if want is None:
                assert found is None, (q, found)
            else:
                assert (found.offset, found.timestamp) == (want, base + DELTAS[want]), (q, found)
    finally:
        c.close()


@needs("aiokafka")
def test_aiokafka_offsets_for_times_is_record_precise(kafka_node: Broker, one_batch: tuple[str, int]) -> None:
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition

    topic, base = one_batch

    async def run() -> None:
        c = AIOKafkaConsumer(bootstrap_servers=kafka_node.bootstrap)
        await c.start()
        try:
            tp = TopicPartition(topic, 0)
            for q in QUERIES:
                want = first_at_or_after(q)
                found = (await c.offsets_for_times({tp: base + q}))[tp]
                if want is None:
                    assert found is None, (q, found)
                else:
                    assert (found.offset, found.timestamp) == (want, base + DELTAS[want]), (q, found)
        finally:
            await c.stop()

    asyncio.run(asyncio.wait_for(run(), TIMEOUT))
