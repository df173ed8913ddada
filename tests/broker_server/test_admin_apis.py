"""CreatePartitions, DescribeConfigs, DeleteRecords and InitProducerId against a live node,
over raw sockets in Kafka's frames, at every version the broker serves."""

from __future__ import annotations

import pytest

from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.record_batch import build_batch
from tests.broker_server.wire import WireClient, create_topic, fetch, list_offset, metadata, produce
from tests.support.waiting import wait_until

TOPIC, BROKER = 2, 4


@pytest.fixture
def client(shared_node):
    with WireClient(shared_node.broker_port) as c:
        yield c


def grow(
    c: WireClient,
    name: str,
    count: int,
    version: int | None = None,
    validate_only: bool = False,
    assignments: list | None = None,
) -> m.CreatePartitionsResponse:
    req = m.CreatePartitionsRequest(
        timeout_ms=10000,
        validate_only=validate_only,
        topics=[m.CreatePartitionsRequest.CreatePartitionsTopic(name=name, count=count, assignments=assignments)],
    )
    return c.call(ApiKey.CREATE_PARTITIONS, req, version).results[0]


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_create_partitions_grows_a_topic_that_then_takes_records(client, version):
    name = f"admin-grow-{version}"
    create_topic(client, name, partitions=1)
    assert grow(client, name, 3, version, validate_only=True).error_code == 0
    assert len(metadata(client, [name]).topics[0].partitions) == 1
    assert grow(client, name, 3, version).error_code == 0
    parts = metadata(client, [name]).topics[0].partitions
    assert [(p.partition_index, p.leader_id, p.error_code) for p in parts] == [(0, 1, 0), (1, 1, 0), (2, 1, 0)]
    assert produce(client, name, 2, build_batch([(None, b"new", None, 1)])).error_code == 0
    shrink = grow(client, name, 2, version)
    assert shrink.error_code == ErrorCode.INVALID_PARTITIONS and "only grow" in shrink.error_message
    assert grow(client, "admin-nope", 4, version).error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    A = m.CreatePartitionsRequest.CreatePartitionsAssignment
    assert grow(client, name, 5, version, assignments=[A(broker_ids=[1])] * 2).error_code == 0
    for wrong in ([A(broker_ids=[2])], [A(broker_ids=[1, 1])], [A(broker_ids=[1])] * 2):  # not live; twice; count
        refused = grow(client, name, 6, version, assignments=wrong)
        assert refused.error_code == ErrorCode.INVALID_REPLICA_ASSIGNMENT, (wrong, refused)
    assert len(metadata(client, [name]).topics[0].partitions) == 5


def describe(c: WireClient, kind: int, name: str, keys: list[str] | None = None, version: int | None = None):
    req = m.DescribeConfigsRequest(
        resources=[
            m.DescribeConfigsRequest.DescribeConfigsResource(
                resource_type=kind, resource_name=name, configuration_keys=keys
            )
        ]
    )
    return c.call(ApiKey.DESCRIBE_CONFIGS, req, version).results[0]


@pytest.mark.parametrize("version", [0, 1, 2, 3, 4])
def test_describe_configs_of_topics_and_the_broker(client, version):
    create_topic(client, f"admin-cfg-{version}", retention_ms="60000")
    result = describe(client, TOPIC, f"admin-cfg-{version}", version=version)
    assert result.error_code == 0
    configs = {c.name: c for c in result.configs}
    assert configs["retention.ms"].value == "60000" and configs["cleanup.policy"].value == "delete"
    assert configs["max.message.bytes"].value == "1048588" and configs["min.insync.replicas"].value == "1"
    if version == 0:
        assert not configs["retention.ms"].is_default and configs["cleanup.policy"].is_default
    else:
        assert configs["retention.ms"].config_source == 1 and configs["cleanup.policy"].config_source == 5
    only = describe(client, TOPIC, f"admin-cfg-{version}", keys=["segment.bytes"], version=version)
    assert [c.name for c in only.configs] == ["segment.bytes"]
    assert describe(client, TOPIC, "admin-none", version=version).error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    broker = {c.name: c.value for c in describe(client, BROKER, "1", version=version).configs}
    assert broker["broker.id"] == "1" and broker["auto.create.topics.enable"] == "true"
    assert broker["num.partitions"] == "1" and broker["listeners"].startswith("PLAINTEXT://127.0.0.1:")
    assert describe(client, BROKER, "7", version=version).error_code == ErrorCode.INVALID_REQUEST


@pytest.mark.parametrize("version", [0, 1, 2])
def test_delete_records_moves_the_log_start(client, version):
    name = f"admin-del-{version}"
    create_topic(client, name)
    for i in range(5):
        produce(client, name, 0, build_batch([(None, b"v%d" % i, None, i)]))

    def delete(offset: int, partition: int = 0):
        req = m.DeleteRecordsRequest(
            timeout_ms=5000,
            topics=[
                m.DeleteRecordsRequest.DeleteRecordsTopic(
                    name=name,
                    partitions=[
                        m.DeleteRecordsRequest.DeleteRecordsPartition(partition_index=partition, offset=offset)
                    ],
                )
            ],
        )
        return client.call(ApiKey.DELETE_RECORDS, req, version).topics[0].partitions[0]

    done = delete(3)
    assert (done.error_code, done.low_watermark) == (0, 3)
    assert list_offset(client, name, 0, -2).offset == 3
    assert fetch(client, name, 0, 1)[0].error_code == ErrorCode.OFFSET_OUT_OF_RANGE
    assert delete(6).error_code == ErrorCode.OFFSET_OUT_OF_RANGE
    assert delete(1).low_watermark == 3  # never backwards
    assert delete(9, partition=4).error_code == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert (delete(-1).error_code, delete(-1).low_watermark) == (0, 5)  # -1: up to the high watermark


@pytest.mark.parametrize("version", [0, 1, 2, 3, 4])
def test_init_producer_id_gives_fresh_ids_and_refuses_transactions(client, version):
    first = client.call(
        ApiKey.INIT_PRODUCER_ID, m.InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60000), version
    )
    second = client.call(ApiKey.INIT_PRODUCER_ID, m.InitProducerIdRequest(transactional_id=None), version)
    assert (first.error_code, second.error_code) == (0, 0)
    assert 0 <= first.producer_id < second.producer_id and first.producer_epoch == 0
    txn = client.call(ApiKey.INIT_PRODUCER_ID, m.InitProducerIdRequest(transactional_id="tx"), version)
    assert (txn.error_code, txn.producer_id) == (ErrorCode.INVALID_REQUEST, -1)


def incremental_alter(c: WireClient, name: str, *ops: tuple[str, int, str | None], validate_only: bool = False):
    inc = m.IncrementalAlterConfigsRequest
    req = inc(
        validate_only=validate_only,
        resources=[
            inc.AlterConfigsResource(
                resource_type=TOPIC,
                resource_name=name,
                configs=[inc.AlterableConfig(name=k, config_operation=op, value=v) for k, op, v in ops],
            )
        ],
    )
    return c.call(ApiKey.INCREMENTAL_ALTER_CONFIGS, req).responses[0]


def test_compression_type_recompresses_on_append_and_can_be_altered(client):
    from client.protocol.compression import Compression
    from client.protocol.record_batch import iter_batches
    from tests.broker_server.wire import records_of

    name = "admin-codec"
    assert create_topic(client, name, compression_type="gzip").error_code == 0
    assert describe(client, TOPIC, name, ["compression.type"]).configs[0].value == "gzip"
    plain = build_batch([(b"k", b"v" * 500, None, 1000), (None, b"w", None, 1001)])
    assert produce(client, name, 0, plain).error_code == 0
    _, data = fetch(client, name, 0, 0)
    assert [h.compression for h in iter_batches(data)] == [Compression.GZIP]
    assert [(r.key, r.value) for r in records_of(data)] == [(b"k", b"v" * 500), (None, b"w")]

    assert incremental_alter(client, name, ("compression.type", 0, "brotli")).error_code == ErrorCode.INVALID_CONFIG
    assert incremental_alter(client, name, ("compression.type", 0, "producer")).error_code == 0
    wait_until(
        "the broker taking up compression.type=producer",
        lambda: describe(client, TOPIC, name, ["compression.type"]).configs[0].value == "producer",
        30,
    )
    assert produce(client, name, 0, plain).error_code == 0
    _, data = fetch(client, name, 0, 2)
    assert [h.compression for h in iter_batches(data)] == [Compression.NONE]
