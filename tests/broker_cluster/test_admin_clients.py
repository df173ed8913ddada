"""The admin requests Kafka clients' own test suites found missing (docs/compatibility.md),
driven on a 3-broker cluster through librdkafka's (confluent-kafka) and kafka-python's
admin clients: manual replica assignments in CreateTopics and CreatePartitions,
DeleteGroups, ElectLeaders, AlterConfigs and IncrementalAlterConfigs with their effect on
the brokers' logs, the topic config compression.type, and dynamic broker configs reaching
every broker."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from client.protocol import messages as m
from client.protocol.api import ApiKey
from tests.broker_cluster.cluster import Cluster, start_cluster
from tests.broker_server.wire import WireClient
from tests.support.procs import ProcessGroup
from tests.support.waiting import wait_until

pytestmark = pytest.mark.cluster
confluent_kafka = pytest.importorskip("confluent_kafka")
kafka = pytest.importorskip("kafka")

TIMEOUT = 60.0
_names = iter(range(1_000_000))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("admin-clients")
    procs = ProcessGroup(tmp)
    c = None
    try:
        # no periodic preferred-leader rebalance: the ElectLeaders test moves leaders itself
        c = start_cluster(
            procs, tmp, extra_config='"auto.leader.rebalance.enable" = false\n"group.min.session.timeout.ms" = 1000\n'
        )
        wait_until("a controller", c.controller)
        yield c
    finally:
        if c is not None:
            c.close()
        procs.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}-{int(time.time() * 1000) % 100000}"


def admin_c(c: Cluster) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": c.bootstrap})


def admin_k(c: Cluster) -> Any:
    from kafka.admin import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=c.bootstrap, request_timeout_ms=30000)


def assignment(c: Cluster, topic: str) -> dict[int, list[int]]:
    data = json.loads(c.zk.get(f"/brokers/topics/{topic}")[0])
    return {int(p): r for p, r in data["partitions"].items()}


def error_of(future: Any) -> Any:
    """The KafkaError a confluent-kafka future failed with (None if it succeeded)."""
    from confluent_kafka import KafkaException

    try:
        future.result(TIMEOUT)
    except KafkaException as exc:
        return exc.args[0]
    return None


# ---- manual replica assignments ----------------------------------------------------------


def test_create_topic_and_partitions_with_manual_assignment(cluster: Cluster) -> None:
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import NewPartitions, NewTopic

    admin = admin_c(cluster)
    name = unique("assigned")
    assert error_of(admin.create_topics([NewTopic(name, 3, replica_assignment=[[3, 1], [1, 2], [2, 3]])])[name]) is None
    assert assignment(cluster, name) == {0: [3, 1], 1: [1, 2], 2: [2, 3]}
    wait_until(
        "the preferred replicas leading", lambda: [cluster.state(name, p)["leader"] for p in range(3)] == [3, 1, 2]
    )

    bad = {"dupe": [[1, 1]], "uneven": [[1, 2], [3]], "unknown": [[1, 9]]}
    futures = admin.create_topics([NewTopic(unique(k), len(v), replica_assignment=v) for k, v in bad.items()])
    for topic, f in futures.items():
        err = error_of(f)
        assert err is not None and err.code() == KafkaError.INVALID_REPLICA_ASSIGNMENT, (topic, err)
        assert "does not exist" not in err.str()
    assert not any(t.startswith(tuple(bad)) for t in cluster.zk.get_children("/brokers/topics"))

    # CreatePartitions: the new partitions' replicas as given; a wrong count or factor is refused
    err = error_of(admin.create_partitions([NewPartitions(name, 5, replica_assignment=[[2, 1]])])[name])
    assert err is not None and err.code() == KafkaError.INVALID_REPLICA_ASSIGNMENT, err
    err = error_of(admin.create_partitions([NewPartitions(name, 4, replica_assignment=[[2]])])[name])
    assert err is not None and err.code() == KafkaError.INVALID_REPLICA_ASSIGNMENT, err
    assert (
        error_of(admin.create_partitions([NewPartitions(name, 5, replica_assignment=[[2, 1], [1, 3]])])[name]) is None
    )
    assert assignment(cluster, name) == {0: [3, 1], 1: [1, 2], 2: [2, 3], 3: [2, 1], 4: [1, 3]}
    wait_until("partition 4 led by broker 1", lambda: cluster.state(name, 4)["leader"] == 1)


def test_kafka_python_manual_assignment_and_validate_only(cluster: Cluster) -> None:
    from kafka.admin import NewPartitions, NewTopic
    from kafka.errors import InvalidReplicationAssignmentError

    admin = admin_k(cluster)
    try:
        name = unique("kp-assigned")
        admin.create_topics([NewTopic(name, replica_assignments={0: [1, 2], 1: [2, 3]})], validate_only=True)
        assert name not in cluster.zk.get_children("/brokers/topics")
        admin.create_topics([NewTopic(name, replica_assignments={0: [1, 2], 1: [2, 3]})])
        assert assignment(cluster, name) == {0: [1, 2], 1: [2, 3]}
        with pytest.raises(InvalidReplicationAssignmentError):
            admin.create_topics([NewTopic(unique("gap"), replica_assignments={0: [1, 2], 2: [2, 3]})])
        admin.create_partitions({name: NewPartitions(3, [[3, 1]])})
        assert assignment(cluster, name)[2] == [3, 1]
    finally:
        admin.close()


# ---- ElectLeaders ------------------------------------------------------------------------


def test_elect_preferred_and_unclean_leaders(cluster: Cluster) -> None:
    from confluent_kafka import ElectionType, KafkaError, TopicPartition
    from confluent_kafka.admin import NewTopic

    admin = admin_c(cluster)
    name = unique("elect")
    assert error_of(admin.create_topics([NewTopic(name, 1, replica_assignment=[[2, 3, 1]])])[name]) is None
    wait_until("a full ISR", lambda: len(cluster.state(name)["isr"]) == 3)

    # move leadership off the preferred replica (broker 2): stop it, start it again
    assert cluster.procs.stop("broker2") == 0
    assert cluster.state(name)["leader"] == 3
    cluster.start_broker(2)
    wait_until("broker 2 back in the ISR", lambda: 2 in cluster.state(name)["isr"])
    assert cluster.state(name)["leader"] == 3  # no automatic rebalance in this cluster

    tp = TopicPartition(name, 0)
    missing = TopicPartition(name, 7)
    result = admin.elect_leaders(ElectionType.PREFERRED, [tp, missing]).result(TIMEOUT)
    assert result[tp] is None, result
    assert result[missing].code() == KafkaError.UNKNOWN_TOPIC_OR_PART, result
    wait_until("broker 2 leading again", lambda: cluster.state(name)["leader"] == 2)

    again = admin.elect_leaders(ElectionType.PREFERRED, [tp]).result(TIMEOUT)
    assert again[tp].code() == KafkaError.ELECTION_NOT_NEEDED, again
    unclean = admin.elect_leaders(ElectionType.UNCLEAN, [tp]).result(TIMEOUT)
    assert unclean[tp].code() == KafkaError.ELECTION_NOT_NEEDED, unclean  # it has a live leader


# ---- DeleteGroups ------------------------------------------------------------------------


def test_delete_groups(cluster: Cluster) -> None:
    from kafka import KafkaConsumer
    from kafka.admin import NewTopic
    from kafka.errors import GroupIdNotFoundError, NonEmptyGroupError

    admin = admin_k(cluster)
    topic, empty, busy = unique("groups"), unique("empty-group"), unique("busy-group")
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
        committer = confluent_kafka.Consumer(
            {"bootstrap.servers": cluster.bootstrap, "group.id": empty, "enable.auto.commit": False}
        )
        try:  # a group of offsets only (the first commit waits for __consumer_offsets to be created)
            committer.commit(offsets=[confluent_kafka.TopicPartition(topic, 0, 0)], asynchronous=False)
        finally:
            committer.close()
        member = KafkaConsumer(
            topic,
            bootstrap_servers=cluster.bootstrap,
            group_id=busy,
            session_timeout_ms=10000,
            heartbeat_interval_ms=1000,
        )
        try:
            deadline = time.monotonic() + TIMEOUT
            while not member.assignment() and time.monotonic() < deadline:
                member.poll(200)
            assert member.assignment()
            answers = admin.delete_groups([empty, busy, "never-seen-group"])
            assert answers == {
                empty: "OK",
                busy: NonEmptyGroupError.__name__,
                "never-seen-group": GroupIdNotFoundError.__name__,
            }, answers
        finally:
            member.close()
        listed = admin.list_groups()
        assert empty not in [g["group_id"] if isinstance(g, dict) else g[0] for g in listed], listed
        assert admin.list_group_offsets(empty) == {empty: {}}  # its offsets went with it
    finally:
        admin.close()


# ---- AlterConfigs, IncrementalAlterConfigs -------------------------------------------------


def described(admin: Any, topic: str) -> dict[str, str]:
    from confluent_kafka.admin import ConfigResource

    entries = next(iter(admin.describe_configs([ConfigResource("topic", topic)]).values())).result(TIMEOUT)
    return {k: e.value for k, e in entries.items()}


def test_alter_configs_are_stored_described_and_honoured(cluster: Cluster) -> None:
    from confluent_kafka import KafkaError, Producer
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

    admin = admin_c(cluster)
    name = unique("alter")
    assert error_of(admin.create_topics([NewTopic(name, 1, 3)])[name]) is None
    producer = Producer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "linger.ms": 0,
            "acks": "all",
            "message.max.bytes": 200_000,
            "compression.codec": "none",
        }
    )

    def produce(size: int) -> Any:
        outcome: list[Any] = []
        producer.produce(name, b"x" * size, on_delivery=lambda err, msg: outcome.append(err))
        producer.flush(TIMEOUT)
        return outcome[0]

    assert produce(50_000) is None

    def incremental(*ops: tuple[str, str | None, Any], validate_only: bool = False) -> Any:
        resource = ConfigResource(
            "topic", name, incremental_configs=[ConfigEntry(k, v, incremental_operation=op) for k, v, op in ops]
        )
        return error_of(admin.incremental_alter_configs([resource], validate_only=validate_only)[resource])

    assert incremental(("max.message.bytes", "10000", AlterConfigOpType.SET), validate_only=True) is None
    assert described(admin, name)["max.message.bytes"] != "10000"
    assert (
        incremental(
            ("max.message.bytes", "10000", AlterConfigOpType.SET),
            ("compression.type", "producer", AlterConfigOpType.SET),
            ("cleanup.policy", "compact", AlterConfigOpType.APPEND),
        )
        is None
    )
    want = ("10000", "producer", "delete,compact")  # brokers take up a change soon, not at once (as Kafka)
    wait_until(
        "the new configs described",
        lambda: (lambda d: (d["max.message.bytes"], d["compression.type"], d["cleanup.policy"]) == want)(
            described(admin, name)
        ),
    )
    # every broker's log of the topic takes the new limit (the leader refuses the batch)
    err = wait_until(
        "the leader refusing a 50 kB record", lambda: (e := produce(50_000)) is not None and e, timeout=TIMEOUT
    )
    assert err.code() == KafkaError.MSG_SIZE_TOO_LARGE, err

    assert (
        incremental(
            ("max.message.bytes", None, AlterConfigOpType.DELETE),
            ("cleanup.policy", "compact", AlterConfigOpType.SUBTRACT),
        )
        is None
    )
    wait_until(
        "the defaults described again",
        lambda: (lambda d: (d["cleanup.policy"], d["max.message.bytes"]) == ("delete", "1048588"))(
            described(admin, name)
        ),
    )
    wait_until("a 50 kB record accepted again", lambda: produce(50_000) is None, timeout=TIMEOUT)

    refused = {
        "retention.ms": ("abc", KafkaError.INVALID_CONFIG),
        "no.such.config": ("1", KafkaError.INVALID_CONFIG),
        "compression.type": ("brotli", KafkaError.INVALID_CONFIG),
        "retention.bytes": ("1", None),
    }
    for key, (value, code) in refused.items():
        err = incremental((key, value, AlterConfigOpType.SET), validate_only=True)
        assert (err.code() if err else None) == code, (key, err)
    err = incremental(("retention.ms", "5", AlterConfigOpType.APPEND))
    assert err is not None and err.code() == KafkaError.INVALID_CONFIG, err

    broker = ConfigResource("broker", "1", set_config={"broker.id": "7"})  # read-only (dynamic ones: below)
    err = error_of(admin.alter_configs([broker])[broker])
    assert err is not None and err.code() == KafkaError.INVALID_REQUEST and "dynamically" in err.str(), err


def test_alter_configs_replaces_the_whole_set(cluster: Cluster) -> None:
    from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

    admin = admin_k(cluster)
    name = unique("kp-alter")
    try:
        admin.create_topics([NewTopic(name, 1, 1, topic_configs={"retention.ms": "3600000"})])
        # kafka-python's AlterConfigs resends the other dynamic keys it described first
        admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, configs={"segment.ms": "600000"})], incremental=False
        )
        stored = json.loads(cluster.zk.get(f"/config/topics/{name}")[0])["config"]
        assert stored == {"retention.ms": "3600000", "segment.ms": "600000"}, stored
    finally:
        admin.close()
    A = m.AlterConfigsRequest
    with WireClient(cluster.ports[1]) as w:
        answer = w.call(
            ApiKey.ALTER_CONFIGS,
            A(
                resources=[
                    A.AlterConfigsResource(
                        resource_type=2,
                        resource_name=name,
                        configs=[A.AlterableConfig(name="segment.ms", value="700000")],
                    ),
                    A.AlterConfigsResource(
                        resource_type=2,
                        resource_name="no-such-topic",
                        configs=[A.AlterableConfig(name="segment.ms", value="1")],
                    ),
                    A.AlterConfigsResource(
                        resource_type=2, resource_name=name, configs=[A.AlterableConfig(name="segment.ms", value=None)]
                    ),
                ]
            ),
            1,
        )
    assert [r.error_code for r in answer.responses] == [0, 3, 42], answer
    stored = json.loads(cluster.zk.get(f"/config/topics/{name}")[0])["config"]
    assert stored == {"segment.ms": "700000"}, stored  # what the request left out returned to its default


# ---- dynamic broker configs ------------------------------------------------------------------


def test_dynamic_broker_configs_reach_every_broker(cluster: Cluster) -> None:
    """The cluster default, written through broker 1, reaches brokers 2 and 3 by the change
    notification (Kafka's /config/changes); broker 2's own value stays its own."""
    import asyncio

    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource, ResourceType

    from tests.kafka_clients.test_admin_dynamic import _alter_cluster_default

    admin = admin_c(cluster)
    first = cluster.bootstrap.split(",")[0]

    def retention(broker: int) -> tuple[str, int]:
        resource = ConfigResource(ResourceType.BROKER, str(broker))
        entry = admin.describe_configs([resource])[resource].result(TIMEOUT)["log.retention.ms"]
        return entry.value, getattr(entry.source, "value", entry.source)

    def set_own(broker: int, op: Any, value: str | None) -> None:
        resource = ConfigResource(
            ResourceType.BROKER,
            str(broker),
            incremental_configs=[ConfigEntry("log.retention.ms", value, incremental_operation=op)],
        )
        admin.incremental_alter_configs([resource])[resource].result(TIMEOUT)

    default, own = ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value, ConfigSource.DYNAMIC_BROKER_CONFIG.value
    try:
        assert asyncio.run(_alter_cluster_default(first, {"log.retention.ms": "5400000"})) == (0, None)
        stored = json.loads(cluster.zk.get("/config/brokers/<default>")[0])
        assert stored["config"] == {"log.retention.ms": "5400000"}, stored
        for broker in (1, 2, 3):
            wait_until(
                f"broker {broker} to take the cluster default", lambda b=broker: retention(b) == ("5400000", default)
            )
        set_own(2, AlterConfigOpType.SET, "600000")
        assert retention(2) == ("600000", own)
        assert retention(3) == ("5400000", default)
        set_own(2, AlterConfigOpType.DELETE, None)
        wait_until("broker 2 back on the default", lambda: retention(2) == ("5400000", default))
    finally:
        asyncio.run(_alter_cluster_default(first, {}))
        set_own(2, AlterConfigOpType.DELETE, None)
    for broker in (1, 2, 3):
        wait_until(
            f"broker {broker} back on its file's value",
            lambda b=broker: retention(b)[1] == ConfigSource.DEFAULT_CONFIG.value,
        )
