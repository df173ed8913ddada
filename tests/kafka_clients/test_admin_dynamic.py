"""What the Kafka clients' admin suites found missing (issue 12), driven by the clients against a
real `pybroker start` node: ListOffsets MAX_TIMESTAMP (KIP-734), Describe/AlterUserScramCredentials
(KIP-554) over the credentials `pybroker users` keeps, dynamic broker configs (per broker and
cluster default, their sources in DescribeConfigs, applied live, read-only ones refused),
authorized operations (KIP-430) and OffsetDelete (KIP-496)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from broker.security.credentials import CoordCredentials
from broker.security.scram_server import AuthenticationFailedError, ScramServer
from client.scram import ScramClient
from coord.client import CoordClient
from tests.kafka_clients.conftest import needs
from tests.kafka_clients.servers import Broker, unique_topic

TIMEOUT = 60.0
REPO_ROOT = __file__.rsplit("/tests/", 1)[0]


def _result(futures: dict[Any, Any]) -> Any:
    return next(iter(futures.values())).result(TIMEOUT)


def _broker_id(admin: Any) -> str:
    return str(next(iter(admin.list_topics(timeout=10).brokers)))


def _source(entry: Any) -> int:
    return getattr(entry.source, "value", entry.source)


async def _scram_login(coord_address: str, mechanism: str, user: str, password: str) -> None:
    """A whole SCRAM exchange against what the node's coord holds for `user` (raises if refused)."""
    coord = CoordClient(coord_address, session_timeout=10)
    await coord.start()
    try:
        client, server = ScramClient(mechanism, user, password), ScramServer(mechanism)
        server_first = await server.first(client.first(), CoordCredentials(coord).lookup)
        client.verify(server.final(client.final(server_first)))
    finally:
        await coord.stop()


# --- ListOffsets MAX_TIMESTAMP ---------------------------------------------------------


@needs("confluent")
def test_confluent_list_offsets_max_timestamp_names_the_newest_record(
    kafka_node: Broker, new_topic: Callable[..., str]
) -> None:
    from confluent_kafka import Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    topic = new_topic("maxts", partitions=1)
    admin = AdminClient({"bootstrap.servers": kafka_node.bootstrap})
    tp = TopicPartition(topic, 0)
    empty = _result(admin.list_offsets({tp: OffsetSpec.max_timestamp()}))
    assert (empty.offset, empty.timestamp) == (-1, -1), empty

    base = 1_700_000_000_000
    p = Producer({"bootstrap.servers": kafka_node.bootstrap, "linger.ms": 100})
    for delta in (5, 9, 2, 9, 7):  # out of order, the largest twice: the first of them counts
        p.produce(topic, value=b"v", partition=0, timestamp=base + delta)
    assert p.flush(TIMEOUT) == 0
    newest = _result(admin.list_offsets({tp: OffsetSpec.max_timestamp()}))
    assert (newest.offset, newest.timestamp) == (1, base + 9), newest
    p.produce(topic, value=b"v", partition=0, timestamp=base + 20)  # a later batch takes over
    assert p.flush(TIMEOUT) == 0
    newest = _result(admin.list_offsets({tp: OffsetSpec.max_timestamp()}))
    assert (newest.offset, newest.timestamp) == (5, base + 20), newest


# --- SCRAM credentials -------------------------------------------------------------------


@needs("confluent")
def test_confluent_alters_and_describes_scram_credentials(kafka_node: Broker) -> None:
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialDeletion,
        UserScramCredentialUpsertion,
    )

    if kafka_node.coord is None:
        pytest.skip("a reference broker: its credentials are not in our coord")
    admin = AdminClient({"bootstrap.servers": kafka_node.bootstrap})
    user = unique_topic("alice")
    sha256, sha512 = ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512
    admin.alter_user_scram_credentials(
        [
            UserScramCredentialUpsertion(user, ScramCredentialInfo(sha256, 8192), b"secret-256"),
            UserScramCredentialUpsertion(user, ScramCredentialInfo(sha512, 4096), b"secret-512"),
        ]
    )[user].result(TIMEOUT)
    described = admin.describe_user_scram_credentials([user])[user].result(TIMEOUT)
    assert sorted((i.mechanism, i.iterations) for i in described.scram_credential_infos) == sorted(
        [(sha256, 8192), (sha512, 4096)]
    ), described
    # The credential the client derived logs in, with its password only.
    asyncio.run(_scram_login(kafka_node.coord, "SCRAM-SHA-256", user, "secret-256"))
    asyncio.run(_scram_login(kafka_node.coord, "SCRAM-SHA-512", user, "secret-512"))
    with pytest.raises(AuthenticationFailedError):
        asyncio.run(_scram_login(kafka_node.coord, "SCRAM-SHA-256", user, "secret-512"))

    # `pybroker users` sees the same credentials (one code path)
    listed = subprocess.run(
        [sys.executable, "-m", "broker", "users", "list", "--coord", kafka_node.coord],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert f"{user}\tSCRAM-SHA-256,SCRAM-SHA-512" in listed.stdout, listed

    with pytest.raises(KafkaException) as low:
        admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(user, ScramCredentialInfo(sha256, 100), b"x")]
        )[user].result(TIMEOUT)
    assert low.value.args[0].code() == KafkaError.UNACCEPTABLE_CREDENTIAL, low.value

    admin.alter_user_scram_credentials([UserScramCredentialDeletion(user, sha512)])[user].result(TIMEOUT)
    with pytest.raises(KafkaException) as gone:
        admin.alter_user_scram_credentials([UserScramCredentialDeletion(user, sha512)])[user].result(TIMEOUT)
    assert gone.value.args[0].code() == KafkaError.RESOURCE_NOT_FOUND, gone.value
    described = admin.describe_user_scram_credentials([user])[user].result(TIMEOUT)
    assert [(i.mechanism, i.iterations) for i in described.scram_credential_infos] == [(sha256, 8192)]
    with pytest.raises(KafkaException) as nobody:
        admin.describe_user_scram_credentials(["nobody-" + user])["nobody-" + user].result(TIMEOUT)
    assert nobody.value.args[0].code() == KafkaError.RESOURCE_NOT_FOUND, nobody.value


@needs("kafka-python")
def test_kafka_python_sees_users_added_with_the_cli(kafka_node: Broker) -> None:
    from kafka.admin import KafkaAdminClient

    if kafka_node.coord is None:
        pytest.skip("a reference broker: its credentials are not in our coord")
    user = unique_topic("bob")
    added = subprocess.run(
        [
            sys.executable,
            "-m",
            "broker",
            "users",
            "add",
            user,
            "--password",
            "pw",
            "--mechanism",
            "SCRAM-SHA-512",
            "--iterations",
            "5000",
            "--coord",
            kafka_node.coord,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert added.returncode == 0, added
    admin = KafkaAdminClient(bootstrap_servers=kafka_node.bootstrap, request_timeout_ms=30000)
    try:
        described = admin.describe_user_scram_credentials([user])[user]
        assert described["error"] is None, described
        assert [
            (getattr(i["mechanism"], "name", i["mechanism"]), i["iterations"]) for i in described["credential_infos"]
        ] == [("SCRAM_SHA_512", 5000)], described
        everyone = admin.describe_user_scram_credentials()
        assert user in everyone, everyone
    finally:
        admin.close()


# --- dynamic broker configs --------------------------------------------------------------


@needs("confluent")
def test_confluent_dynamic_broker_configs(kafka_node: Broker, new_topic: Callable[..., str]) -> None:
    from confluent_kafka import KafkaError, KafkaException, Producer
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        ConfigSource,
        ResourceType,
    )

    admin = AdminClient({"bootstrap.servers": kafka_node.bootstrap})
    me = _broker_id(admin)
    broker = ConfigResource(ResourceType.BROKER, me)

    def incremental(resource: ConfigResource, *entries: tuple[str, Any, str | None]) -> None:
        changed = ConfigResource(
            resource.restype,
            resource.name,
            incremental_configs=[ConfigEntry(name, value, incremental_operation=op) for name, op, value in entries],
        )
        _result(admin.incremental_alter_configs([changed]))

    def described(resource: ConfigResource) -> dict[str, Any]:
        return _result(admin.describe_configs([ConfigResource(resource.restype, resource.name)]))

    topic = new_topic("dynbroker", partitions=1)
    try:
        incremental(
            broker,
            ("log.retention.ms", AlterConfigOpType.SET, "7200000"),
            ("log.cleanup.policy", AlterConfigOpType.APPEND, "compact"),
        )
        entry = described(broker)["log.retention.ms"]
        assert (entry.value, _source(entry)) == ("7200000", ConfigSource.DYNAMIC_BROKER_CONFIG.value), entry
        assert described(broker)["log.cleanup.policy"].value == "delete,compact"
        # a topic without its own value takes the dynamic default, and says where it comes from
        topic_entry = described(ConfigResource(ResourceType.TOPIC, topic))["retention.ms"]
        assert (topic_entry.value, _source(topic_entry)) == ("7200000", ConfigSource.DYNAMIC_BROKER_CONFIG.value), (
            topic_entry
        )

        # applied live: a smaller message.max.bytes refuses a record the topic took before
        p = Producer({"bootstrap.servers": kafka_node.bootstrap, "linger.ms": 0, "compression.type": "none"})
        delivered: list[Any] = []
        big = b"x" * 4000

        def produce_big(key: bytes | None = b"k") -> Any:
            delivered.clear()
            p.produce(topic, key=key, value=big, partition=0, on_delivery=lambda err, msg: delivered.append(err))
            p.flush(TIMEOUT)
            return delivered[0]

        # the topic's logs now compact too (log.cleanup.policy is their default): keys required
        err = produce_big(key=None)
        assert err is not None and err.code() == KafkaError.INVALID_RECORD, err
        assert produce_big() is None
        incremental(broker, ("message.max.bytes", AlterConfigOpType.SET, "2000"))
        err = produce_big()
        assert err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE, err
        incremental(broker, ("message.max.bytes", AlterConfigOpType.DELETE, None))
        assert produce_big() is None

        # dynamic in Kafka without meaning here: accepted and described
        incremental(
            broker,
            ("background.threads", AlterConfigOpType.SET, "9"),
            ("sasl.kerberos.min.time.before.relogin", AlterConfigOpType.SET, "58000"),
        )
        assert described(broker)["background.threads"].value == "9"

        # read-only: Kafka's INVALID_REQUEST, nothing written
        with pytest.raises(KafkaException) as fixed:
            incremental(
                broker, ("broker.id", AlterConfigOpType.SET, "7"), ("log.retention.ms", AlterConfigOpType.SET, "1")
            )
        assert fixed.value.args[0].code() == KafkaError.INVALID_REQUEST, fixed.value
        assert "dynamically" in str(fixed.value)
        assert described(broker)["log.retention.ms"].value == "7200000"
        with pytest.raises(KafkaException) as bad:
            incremental(broker, ("log.segment.bytes", AlterConfigOpType.SET, "many"))
        assert bad.value.args[0].code() == KafkaError.INVALID_REQUEST, bad.value
    finally:
        incremental(
            broker,
            *(
                (n, AlterConfigOpType.DELETE, None)
                for n in (
                    "log.retention.ms",
                    "log.cleanup.policy",
                    "message.max.bytes",
                    "background.threads",
                    "sasl.kerberos.min.time.before.relogin",
                )
            ),
        )
    entry = described(broker)["log.retention.ms"]
    assert _source(entry) == ConfigSource.DEFAULT_CONFIG.value, entry
    assert "background.threads" not in described(broker)


async def _alter_cluster_default(bootstrap: str, configs: dict[str, str]) -> tuple[int, str | None]:
    """AlterConfigs on the cluster-default resource (name "", kafka-configs --entity-default),
    through pybroker's client: confluent-kafka and kafka-python refuse a broker resource without
    an id before sending anything."""
    from client.client import NetworkClient
    from client.protocol.api import ApiKey
    from client.protocol.messages import AlterConfigsRequest as Req

    client = NetworkClient(bootstrap, client_id="cluster-default", request_timeout_ms=30000, retry_backoff_ms=100)
    await client.start()
    try:
        answer = await client.any_request(
            ApiKey.ALTER_CONFIGS,
            Req(
                resources=[
                    Req.AlterConfigsResource(
                        resource_type=4,
                        resource_name="",
                        configs=[Req.AlterableConfig(name=k, value=v) for k, v in configs.items()],
                    )
                ],
                validate_only=False,
            ),
        )
    finally:
        await client.close()
    [result] = answer.responses
    return result.error_code, result.error_message


@needs("kafka-python")
def test_kafka_python_cluster_default_under_the_brokers_own(kafka_node: Broker) -> None:
    """The cluster default applies where the broker sets nothing itself, under the broker's own
    value; AlterConfigs replaces the entity's whole set (an empty one clears it); read-only
    settings are refused."""
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=kafka_node.bootstrap, request_timeout_ms=30000)
    broker = admin.describe_cluster()["brokers"][0]
    me = str(broker.get("node_id", broker.get("broker_id")))

    def segment_bytes() -> tuple[str, str]:
        found = admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, me)], config_filter="all")
        entry = found["broker"][me]["log.segment.bytes"]
        return entry["value"], entry["config_source"]

    def alter(configs: dict[str, str]) -> Any:
        return admin.alter_configs([ConfigResource(ConfigResourceType.BROKER, me, configs=configs)])

    try:
        assert asyncio.run(_alter_cluster_default(kafka_node.bootstrap, {"log.segment.bytes": "2097152"})) == (0, None)
        assert segment_bytes() == ("2097152", "DYNAMIC_DEFAULT_BROKER_CONFIG")
        alter({"log.segment.bytes": "4194304"})
        assert segment_bytes() == ("4194304", "DYNAMIC_BROKER_CONFIG")
        alter({"log.segment.bytes": ("DELETE", None)})  # the broker's own value gone: the default again
        assert segment_bytes() == ("2097152", "DYNAMIC_DEFAULT_BROKER_CONFIG")
        code, message = asyncio.run(_alter_cluster_default(kafka_node.bootstrap, {"broker.id": "9"}))
        assert code == 42 and "dynamically" in (message or ""), (code, message)  # INVALID_REQUEST
        with pytest.raises(ValueError, match=r"zookeeper\.connect"):  # read-only in our DescribeConfigs:
            alter({"zookeeper.connect": "elsewhere:2181"})  # kafka-python refuses it itself
        assert asyncio.run(_alter_cluster_default(kafka_node.bootstrap, {})) == (0, None)
        assert segment_bytes() == ("1073741824", "DEFAULT_CONFIG")
    finally:
        asyncio.run(_alter_cluster_default(kafka_node.bootstrap, {}))
        alter({"log.segment.bytes": ("DELETE", None)})
        admin.close()


# --- authorized operations (KIP-430) -------------------------------------------------------


@needs("confluent")
def test_confluent_describes_authorized_operations(kafka_node: Broker, new_topic: Callable[..., str]) -> None:
    """Without an authorizer every supported operation is allowed, as Kafka answers; not asked
    for, none are sent."""
    from confluent_kafka import TopicCollection
    from confluent_kafka.admin import AclOperation, AdminClient

    admin = AdminClient({"bootstrap.servers": kafka_node.bootstrap})
    cluster = admin.describe_cluster(include_authorized_operations=True).result(TIMEOUT)
    assert set(cluster.authorized_operations) == {
        AclOperation.CREATE,
        AclOperation.CLUSTER_ACTION,
        AclOperation.DESCRIBE_CONFIGS,
        AclOperation.ALTER_CONFIGS,
        AclOperation.IDEMPOTENT_WRITE,
        AclOperation.ALTER,
        AclOperation.DESCRIBE,
    }, cluster.authorized_operations
    assert not admin.describe_cluster().result(TIMEOUT).authorized_operations
    topic = new_topic("authops", partitions=1)
    [described] = admin.describe_topics(TopicCollection([topic]), include_authorized_operations=True).values()
    assert set(described.result(TIMEOUT).authorized_operations) == {
        AclOperation.READ,
        AclOperation.WRITE,
        AclOperation.CREATE,
        AclOperation.DESCRIBE,
        AclOperation.DELETE,
        AclOperation.ALTER,
        AclOperation.DESCRIBE_CONFIGS,
        AclOperation.ALTER_CONFIGS,
    }


# --- OffsetDelete (KIP-496) ------------------------------------------------------------------


@needs("confluent", "kafka-python")
def test_kafka_python_deletes_committed_offsets(kafka_node: Broker, new_topic: Callable[..., str]) -> None:
    """A live member's subscribed topic keeps its offsets (GROUP_SUBSCRIBED_TO_TOPIC); once the
    group is empty they go, and the group's other offsets stay. (confluent-kafka's Python
    AdminClient has no OffsetDelete; the member is librdkafka's.)"""
    from kafka import TopicPartition
    from kafka.admin import KafkaAdminClient
    from kafka.errors import GroupIdNotFoundError

    from tests.kafka_clients.test_admin import confluent_member
    from tests.support.waiting import wait_until

    topic = new_topic("offdel", partitions=2)
    group = unique_topic("offdel-group")
    admin = KafkaAdminClient(bootstrap_servers=kafka_node.bootstrap, request_timeout_ms=30000)

    def delete(partitions: list[int]) -> dict[int, str]:
        answer = admin.delete_group_offsets(group, [TopicPartition(topic, p) for p in partitions])
        return {tp.partition: error.__name__ for tp, error in answer.items()}

    def committed() -> dict[int, int]:
        return {
            tp.partition: meta.offset for tp, meta in admin.list_group_offsets(group)[group].items() if meta.offset >= 0
        }

    try:
        with confluent_member(kafka_node.bootstrap, group, topic, 2):
            assert delete([0]) == {0: "GroupSubscribedToTopicError"}
        wait_until("the group to empty", lambda: admin.describe_groups([group])[group]["group_state"] == "Empty")
        assert committed() == {0: 1, 1: 2}
        assert delete([0]) == {0: "NoError"}
        assert committed() == {1: 2}
        with pytest.raises(GroupIdNotFoundError):
            admin.delete_group_offsets("no-such-" + group, [TopicPartition(topic, 0)])
    finally:
        admin.close()
