"""Kafka's ZooKeeper-era authorizer: the decision rule, ACLs in coord as Kafka's JSON with change
notifications, `pybroker acls`, CreateAcls/DescribeAcls/DeleteAcls, per-API checks with Kafka's
*_AUTHORIZATION_FAILED codes, and CLUSTER_ACTION for the inter-broker APIs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from broker.security.acl import AclBinding, Entry, Operation, PatternType, Permission, Resource, ResourceType, decide
from client.conn import BrokerConnection
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.record_batch import build_batch
from client.security import client_security
from coord.client import CoordClient
from tests.broker_metadata.test_metadata_coord import coord_port  # noqa: F401 (fixture)
from tests.broker_security.conftest import ACLS_ON
from tests.broker_security.test_sasl import PLAIN_JAAS

T, Op, P = ResourceType, Operation, Permission


def _b(
    name: str,
    principal: str,
    op: Operation,
    perm: Permission = P.ALLOW,
    pattern: PatternType = PatternType.LITERAL,
    host: str = "*",
) -> AclBinding:
    return AclBinding(Resource(T.TOPIC, name, pattern), Entry(principal, host, op, perm))


def test_the_decision_rule_is_kafkas():
    acls = [
        _b("orders", "User:alice", Op.READ),
        _b("orders", "User:bob", Op.ALL),
        _b("orders", "User:bob", Op.WRITE, P.DENY),
        _b("pay-", "User:alice", Op.WRITE, pattern=PatternType.PREFIXED),
        _b("*", "User:*", Op.DESCRIBE, host="10.0.0.9"),
    ]
    ok = lambda p, op, name, host="1.2.3.4", **kw: decide(acls, p, host, op, T.TOPIC, name, **kw)  # noqa: E731
    assert ok("User:alice", Op.READ, "orders") and ok("User:alice", Op.DESCRIBE, "orders")  # READ implies DESCRIBE
    assert not ok("User:alice", Op.WRITE, "orders")
    assert ok("User:bob", Op.READ, "orders") and not ok("User:bob", Op.WRITE, "orders")  # DENY wins over ALL
    assert ok("User:alice", Op.WRITE, "pay-eu") and not ok("User:alice", Op.WRITE, "payroll")  # prefixed
    assert ok("User:carol", Op.DESCRIBE, "anything", "10.0.0.9") and not ok("User:carol", Op.DESCRIBE, "anything")
    assert not decide(acls, "User:carol", "h", Op.READ, T.GROUP, "g")  # no ACL: deny...
    assert decide(acls, "User:carol", "h", Op.READ, T.GROUP, "g", allow_if_no_acl=True)  # ...unless allowed
    assert not ok("User:carol", Op.READ, "orders", allow_if_no_acl=True)  # ACLs exist: they rule
    assert ok("User:root", Op.DELETE, "orders", super_users=frozenset({"User:root"}))


def acl_node(secure_node) -> int:
    secure_node.start(
        {"SASL_PLAINTEXT": ("SASL_PLAINTEXT", None)},
        {
            "sasl.jaas.config": PLAIN_JAAS.replace(
                'user_kim="kim-secret"', 'user_kim="kim-secret" user_lee="lee-secret"'
            ),
            "sasl.enabled.mechanisms": "PLAIN",
            **ACLS_ON,
            "super.users": "User:admin",
            "auto.create.topics.enable": False,
        },
    )
    return secure_node.ports["SASL_PLAINTEXT"]


def pybroker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "broker", *args], capture_output=True, text=True, timeout=60)


def admin_properties(directory: Path) -> Path:
    path = directory / "admin.properties"
    path.write_text(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config="
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="admin" password="admin-secret";\n'
    )
    return path


async def _as(port: int, user: str, password: str) -> BrokerConnection:
    return await BrokerConnection.open(
        "127.0.0.1",
        port,
        security=client_security(
            "SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_plain_username=user, sasl_plain_password=password
        ),
    )


async def test_acls_guard_topics_and_live_in_coord_as_kafkas(secure_node):
    port = acl_node(secure_node)
    bootstrap = f"127.0.0.1:{port}"
    props = admin_properties(secure_node.directory)
    admin = await _as(port, "admin", "admin-secret")
    try:
        created = await admin.request(
            ApiKey.CREATE_TOPICS,
            m.CreateTopicsRequest(
                topics=[
                    m.CreateTopicsRequest.CreatableTopic(name=n, num_partitions=1, replication_factor=1)
                    for n in ("open-orders", "secret-salaries")
                ]
            ),
        )
        assert [t.error_code for t in created.topics] == [0, 0]
    finally:
        admin.close()
    added = pybroker(
        "acls",
        "add",
        "--bootstrap",
        bootstrap,
        "--command-config",
        str(props),
        "--allow-principal",
        "User:kim",
        "--operation",
        "Read",
        "--operation",
        "Write",
        "--topic",
        "open-",
        "--resource-pattern-type",
        "prefixed",
    )
    assert added.returncode == 0, added.stderr
    kim = await _as(port, "kim", "kim-secret")
    try:
        meta = await kim.request(ApiKey.METADATA, m.MetadataRequest(topics=None))
        assert [t.name for t in meta.topics] == ["open-orders"]  # the other is not shown
        named = await kim.request(
            ApiKey.METADATA, m.MetadataRequest(topics=[m.MetadataRequest.MetadataRequestTopic(name="secret-salaries")])
        )
        assert [(t.name, t.error_code) for t in named.topics] == [
            ("secret-salaries", ErrorCode.TOPIC_AUTHORIZATION_FAILED)
        ]
        offsets = await kim.request(
            ApiKey.LIST_OFFSETS,
            m.ListOffsetsRequest(
                replica_id=-1,
                topics=[
                    m.ListOffsetsRequest.ListOffsetsTopic(
                        name=n, partitions=[m.ListOffsetsRequest.ListOffsetsPartition(partition_index=0, timestamp=-1)]
                    )
                    for n in ("open-orders",)
                ],
            ),
        )
        assert offsets.topics[0].partitions[0].error_code == 0
        # One request, two topics: the allowed one is served, the other refused beside it (as Kafka does).
        batch = build_batch([(None, b"hello", None, 1)])
        produce = await kim.request(
            ApiKey.PRODUCE,
            m.ProduceRequest(
                acks=1,
                timeout_ms=5000,
                topic_data=[
                    m.ProduceRequest.TopicProduceData(
                        name=n, partition_data=[m.ProduceRequest.PartitionProduceData(index=0, records=batch)]
                    )
                    for n in ("secret-salaries", "open-orders")
                ],
            ),
        )
        assert sorted((t.name, t.partition_responses[0].error_code) for t in produce.responses) == [
            ("open-orders", 0),
            ("secret-salaries", ErrorCode.TOPIC_AUTHORIZATION_FAILED),
        ]
        fetch = await kim.request(
            ApiKey.FETCH,
            m.FetchRequest(
                replica_id=-1,
                max_wait_ms=0,
                topics=[
                    m.FetchRequest.FetchTopic(
                        topic=n,
                        partitions=[
                            m.FetchRequest.FetchPartition(partition=0, fetch_offset=0, partition_max_bytes=1024)
                        ],
                    )
                    for n in ("secret-salaries", "open-orders")
                ],
            ),
        )
        answers = {t.topic: t.partitions[0] for t in fetch.responses}
        assert answers["secret-salaries"].error_code == ErrorCode.TOPIC_AUTHORIZATION_FAILED
        assert answers["open-orders"].error_code == 0 and answers["open-orders"].high_watermark == 1
        join = await kim.request(
            ApiKey.JOIN_GROUP,
            m.JoinGroupRequest(group_id="g1", session_timeout_ms=10000, member_id="", protocol_type="consumer"),
        )
        assert join.error_code == ErrorCode.GROUP_AUTHORIZATION_FAILED
        acls = await kim.request(
            ApiKey.DESCRIBE_ACLS,
            m.DescribeAclsRequest(resource_type_filter=1, pattern_type_filter=1, operation=1, permission_type=1),
        )
        assert acls.error_code == ErrorCode.CLUSTER_AUTHORIZATION_FAILED
    finally:
        kim.close()
    listing = pybroker("acls", "list", "--bootstrap", bootstrap, "--command-config", str(props))
    assert "TOPIC:PREFIXED:open-" in listing.stdout and "User:kim from *: ALLOW Read" in listing.stdout, listing
    coord = CoordClient(f"127.0.0.1:{secure_node.coord_port}")
    await coord.start()
    try:
        data, _ = await coord.get("/kafka-acl-extended/prefixed/Topic/open-")
        changes = await coord.get_children("/kafka-acl-extended-changes")
        change, _ = await coord.get(f"/kafka-acl-extended-changes/{sorted(changes)[-1]}")
    finally:
        await coord.stop()
    assert json.loads(data) == {
        "version": 1,
        "acls": [
            {"principal": "User:kim", "permissionType": "Allow", "operation": "Read", "host": "*"},
            {"principal": "User:kim", "permissionType": "Allow", "operation": "Write", "host": "*"},
        ],
    }
    assert json.loads(change) == {"version": 1, "resourceType": "TOPIC", "name": "open-", "patternType": "PREFIXED"}
    removed = pybroker(
        "acls",
        "remove",
        "--bootstrap",
        bootstrap,
        "--command-config",
        str(props),
        "--topic",
        "open-",
        "--resource-pattern-type",
        "prefixed",
    )
    assert removed.returncode == 0 and "removed 2 ACL(s)" in removed.stdout, removed
    kim = await _as(port, "kim", "kim-secret")
    try:
        assert (await kim.request(ApiKey.METADATA, m.MetadataRequest(topics=None))).topics == []
    finally:
        kim.close()


async def test_inter_broker_apis_need_cluster_action(secure_node):
    port = acl_node(secure_node)
    refused = int(ErrorCode.CLUSTER_AUTHORIZATION_FAILED)
    for user, password, expected in (
        ("kim", "kim-secret", refused),
        ("admin", "admin-secret", int(ErrorCode.STALE_CONTROLLER_EPOCH)),
    ):
        conn = await _as(port, user, password)
        try:
            lai = await conn.request(
                ApiKey.LEADER_AND_ISR,
                m.LeaderAndIsrRequest(controller_id=1, controller_epoch=0, broker_epoch=-1),
                api_version=5,
            )
            stop = await conn.request(
                ApiKey.STOP_REPLICA,
                m.StopReplicaRequest(controller_id=1, controller_epoch=0, broker_epoch=-1),
                api_version=3,
            )
            um = await conn.request(
                ApiKey.UPDATE_METADATA,
                m.UpdateMetadataRequest(controller_id=1, controller_epoch=0, broker_epoch=-1),
                api_version=7,
            )
            fetch = await conn.request(
                ApiKey.FETCH, m.FetchRequest(replica_id=1, max_wait_ms=0, topics=[]), api_version=12
            )
            assert (lai.error_code, stop.error_code, um.error_code) == (expected, expected, expected), user
            assert fetch.error_code == (refused if user == "kim" else 0), user
        finally:
            conn.close()
    assert secure_node.alive()


async def test_every_brokers_cache_follows_changes_and_old_notifications_are_purged(coord_port):  # noqa: F811
    import asyncio

    from broker.security.acl_store import AclStore

    clients = [CoordClient(f"127.0.0.1:{coord_port}", session_timeout=10.0) for _ in range(2)]
    for c in clients:
        await c.start()
    writer, follower = AclStore(clients[0]), AclStore(clients[1], change_ttl_ms=0)
    try:
        await writer.start()
        await follower.start()
        orders = Resource(T.TOPIC, "orders")
        await writer.update(orders, add=[Entry("User:alice", "*", Op.READ, P.ALLOW)])
        for _ in range(100):  # the follower learns it by watch, within a round trip or two
            if follower.acls.get(orders):
                break
            await asyncio.sleep(0.05)
        assert follower.acls[orders] == frozenset({Entry("User:alice", "*", Op.READ, P.ALLOW)})
        await writer.update(orders, remove=[Entry("User:alice", "*", Op.READ, P.ALLOW)])
        for _ in range(100):
            if orders not in follower.acls and not await clients[0].get_children("/kafka-acl-changes"):
                break
            await asyncio.sleep(0.05)
        assert orders not in follower.acls
        assert await clients[0].get_children("/kafka-acl-changes") == []  # purged (ttl 0 here)
    finally:
        for store in (writer, follower):
            await store.close()
        for c in clients:
            await c.stop()
