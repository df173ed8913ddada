"""The inter-broker requests in Kafka's schemas: what the controller builds survives the
codec at the version we send, every served layout reads back, and the broker's handlers
(real coord, metadata store, controller, replica manager and logs, in-process) obey, fence
and refuse as Kafka on ZooKeeper does."""

from __future__ import annotations

import pytest

from broker.config import BrokerConfig
from broker.metadata import controller_requests as requests
from broker.metadata import znodes as Z
from broker.metadata.cache import MetadataCache, TopicMetadata
from broker.server.handlers import replica_control
from broker.server.handlers.common import BrokerContext
from broker.server.log_manager import LogManager
from broker.server.replica_manager import ReplicaManager
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from tests.broker_metadata.test_metadata_coord import coord_port, start_broker  # noqa: F401 (fixture)

TO = requests.Addressing(controller_id=1, controller_epoch=3, broker_epoch=1234)


def cache_with(topic: str = "t") -> MetadataCache:
    cache = MetadataCache()
    cache.set_brokers(
        {b: Z.BrokerInfo(b, "127.0.0.1", 9000 + b, rack="r1" if b == 1 else None) for b in (1, 2)}, {1: 10, 2: 20}
    )
    meta = TopicMetadata(topic, {0: [1, 2, 3], 1: [2, 1]})
    meta.states = {0: Z.PartitionState(1, 4, (1, 2), 3, zk_version=17), 1: Z.PartitionState(2, 0, (2, 1), 2, 5)}
    cache.set_topic(meta)
    return cache


def wire(body: m.Message, api_key: ApiKey, version: int | None = None) -> m.Message:
    """The body as the addressee decodes it."""
    version = requests.VERSIONS[api_key] if version is None else version
    return type(body).decode(body.encode(version), version)


def test_leader_and_isr_carries_our_state_in_kafkas_fields():
    cache = cache_with()
    body = wire(requests.leader_and_isr(TO, cache, [("t", 0), ("t", 1)]), ApiKey.LEADER_AND_ISR)
    assert (body.controller_id, body.controller_epoch, body.broker_epoch) == (1, 3, 1234)
    states = {(t, st.partition_index): st for t, st in requests.leader_and_isr_states(body, 4)}
    st = states[("t", 0)]
    assert (st.leader, st.leader_epoch, st.isr, st.replicas, st.controller_epoch) == (1, 4, [1, 2], [1, 2, 3], 3)
    assert st.partition_epoch == 17  # the ISR version (the state znode's version)
    assert states[("t", 1)].partition_epoch == 5
    # the live leaders, with their endpoints (broker 3 is not registered: not listed)
    assert sorted((b.broker_id, b.host_name, b.port) for b in body.live_leaders) == [
        (1, "127.0.0.1", 9001),
        (2, "127.0.0.1", 9002),
    ]


@pytest.mark.parametrize("version", [0, 1])
def test_leader_and_isr_before_v2_reads_from_the_ungrouped_layout(version):
    P = m.LeaderAndIsrRequest.LeaderAndIsrPartitionState
    body = wire(
        m.LeaderAndIsrRequest(
            controller_id=1,
            controller_epoch=2,
            ungrouped_partition_states=[
                P(topic_name="a", partition_index=3, leader=1, leader_epoch=2, isr=[1], partition_epoch=9, replicas=[1])
            ],
        ),
        ApiKey.LEADER_AND_ISR,
        version,
    )
    assert body.broker_epoch == -1  # the field does not exist before v2
    [(topic, st)] = requests.leader_and_isr_states(body, version)
    assert (topic, st.partition_index, st.partition_epoch) == ("a", 3, 9)


def test_update_metadata_lists_offline_replicas_and_live_brokers():
    body = wire(requests.update_metadata(TO, cache_with(), [("t", 0)]), ApiKey.UPDATE_METADATA)
    [(topic, st)] = requests.update_metadata_states(body, 6)
    assert (topic, st.zk_version, st.replicas, st.offline_replicas) == ("t", 17, [1, 2, 3], [3])
    assert body.broker_epoch == 1234
    brokers = {b.id: b for b in body.live_brokers}
    assert sorted(brokers) == [1, 2] and brokers[1].rack == "r1" and brokers[2].rack is None
    [endpoint] = brokers[2].endpoints
    assert (endpoint.host, endpoint.port, endpoint.listener, endpoint.security_protocol) == (
        "127.0.0.1",
        9002,
        "PLAINTEXT",
        0,
    )


def test_update_metadata_before_v5_reads_from_the_ungrouped_layout():
    P = m.UpdateMetadataRequest.UpdateMetadataPartitionState
    body = wire(
        m.UpdateMetadataRequest(
            controller_id=1, ungrouped_partition_states=[P(topic_name="a", partition_index=0, leader=2, zk_version=4)]
        ),
        ApiKey.UPDATE_METADATA,
        4,
    )
    assert [(t, st.leader, st.zk_version) for t, st in requests.update_metadata_states(body, 4)] == [("a", 2, 4)]


def test_stop_replica_orders_at_every_served_layout():
    body = wire(requests.stop_replica(TO, [("t", 0), ("t", 1), ("u", 2)], delete=True), ApiKey.STOP_REPLICA)
    assert requests.stop_replica_orders(body, 3) == [
        requests.StopOrder("t", 0, requests.EPOCH_DURING_DELETE, True),
        requests.StopOrder("t", 1, requests.EPOCH_DURING_DELETE, True),
        requests.StopOrder("u", 2, requests.EPOCH_DURING_DELETE, True),
    ]
    v1 = wire(
        m.StopReplicaRequest(
            delete_partitions=False,
            topics=[m.StopReplicaRequest.StopReplicaTopicV1(name="t", partition_indexes=[0, 1])],
        ),
        ApiKey.STOP_REPLICA,
        1,
    )
    assert requests.stop_replica_orders(v1, 1) == [
        requests.StopOrder("t", 0, -1, False),
        requests.StopOrder("t", 1, -1, False),
    ]
    v0 = wire(
        m.StopReplicaRequest(
            delete_partitions=True,
            ungrouped_partitions=[m.StopReplicaRequest.StopReplicaPartitionV0(topic_name="t", partition_index=4)],
        ),
        ApiKey.STOP_REPLICA,
        0,
    )
    assert requests.stop_replica_orders(v0, 0) == [requests.StopOrder("t", 4, -1, True)]


# -- the handlers, against real parts -----------------------------------------------------------


class Node:
    """One broker's metadata side (coord store + controller, which leads) and its replicas."""

    def __init__(self, tmp_path, coord, controller) -> None:
        self.coord, self.controller = coord, controller
        self.config = BrokerConfig(broker_id=1, data_dir=tmp_path / "data")
        self.cache = controller.cache
        self.logs = LogManager(self.config)
        self.replicas = ReplicaManager(self.config, self.logs, self.cache)
        self.replicas.propose_isr = lambda part, proposal: None
        self.replicas.set_broker_epoch(self.cache.broker_epochs[1])
        self.ctx = BrokerContext(self.config, self.cache, self.logs, self.replicas, controller)

    async def call(self, api_key: ApiKey, body: m.Message, version: int | None = None) -> m.Message:
        """Through the codec both ways at `version` (ours by default), as over the wire."""
        version = requests.VERSIONS[api_key] if version is None else version
        handler = {
            ApiKey.LEADER_AND_ISR: replica_control.leader_and_isr,
            ApiKey.STOP_REPLICA: replica_control.stop_replica,
            ApiKey.UPDATE_METADATA: replica_control.update_metadata,
            ApiKey.CONTROLLED_SHUTDOWN: replica_control.controlled_shutdown,
            ApiKey.OFFSETS_FOR_LEADER_EPOCH: replica_control.offsets_for_leader_epoch,
        }[api_key]
        spec = m.API_BY_KEY[api_key]
        reply = await handler(
            self.ctx,
            RequestHeader(int(api_key), version, 1, "test"),
            spec.request.decode(body.encode(version), version),
        )
        return spec.response.decode(reply.body.encode(version), version)

    def to(self, **changes: int) -> requests.Addressing:
        base = {
            "controller_id": 1,
            "controller_epoch": self.controller.epoch,
            "broker_epoch": self.replicas.broker_epoch,
        }
        return requests.Addressing(**{**base, **changes})

    async def close(self) -> None:
        await self.replicas.close()
        await self.logs.close()
        await self.controller.close()
        await self.coord.stop()


@pytest.fixture
async def node(coord_port, tmp_path):  # noqa: F811 (the fixture imported above)
    coord, controller, _ = await start_broker(coord_port)
    n = Node(tmp_path, coord, controller)
    try:
        yield n
    finally:
        await n.close()


async def test_leader_and_isr_opens_the_replica_with_the_configs_stored_in_coord(node):
    assert (
        await node.controller.create_topic("cfg", 1, 1, {"min.insync.replicas": "1", "retention.ms": "12345"}) is None
    )
    node.cache.topics["cfg"].configs = {}  # as a broker whose watch has not read the topic yet
    answer = await node.call(ApiKey.LEADER_AND_ISR, requests.leader_and_isr(node.to(), node.cache, [("cfg", 0)]))
    assert answer.error_code == 0
    assert [(e.topic_name, e.partition_index, e.error_code) for e in answer.partition_errors] == [("cfg", 0, 0)]
    part = node.replicas.partitions[("cfg", 0)]
    assert part.is_leader and part.leader_epoch == 0
    assert part.log.config.retention_ms == 12345


async def test_leader_and_isr_for_a_deleted_topic_opens_nothing(node):
    assert await node.controller.create_topic("gone", 1, 1, {}) is None
    order = requests.leader_and_isr(node.to(), node.cache, [("gone", 0)])
    await node.coord.delete(Z.topic_config_path("gone"))
    answer = await node.call(ApiKey.LEADER_AND_ISR, order)
    assert [e.error_code for e in answer.partition_errors] == [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
    assert ("gone", 0) not in node.replicas.partitions


@pytest.mark.parametrize("api_key", [ApiKey.LEADER_AND_ISR, ApiKey.UPDATE_METADATA, ApiKey.STOP_REPLICA])
async def test_controller_requests_are_refused_from_zombies_strangers_and_for_other_registrations(node, api_key):
    assert await node.controller.create_topic("z", 1, 1, {}) is None
    ok = await node.call(ApiKey.LEADER_AND_ISR, requests.leader_and_isr(node.to(), node.cache, [("z", 0)]))
    assert ok.error_code == 0
    part = node.replicas.partitions[("z", 0)]

    def build(to: requests.Addressing) -> m.Message:
        if api_key == ApiKey.LEADER_AND_ISR:
            return requests.leader_and_isr(to, node.cache, [("z", 0)])
        if api_key == ApiKey.UPDATE_METADATA:
            return requests.update_metadata(to, node.cache, [("z", 0)])
        return requests.stop_replica(to, [("z", 0)], delete=True)

    epoch = node.replicas.broker_epoch
    cases = [
        (node.to(controller_epoch=node.controller.epoch - 1), ErrorCode.STALE_CONTROLLER_EPOCH),
        (node.to(broker_epoch=epoch - 1), ErrorCode.STALE_BROKER_EPOCH),
        (node.to(broker_epoch=-1), ErrorCode.STALE_BROKER_EPOCH),
        (node.to(controller_id=7, controller_epoch=1 << 30), ErrorCode.CLUSTER_AUTHORIZATION_FAILED),
    ]
    for to, code in cases:
        answer = await node.call(api_key, build(to))
        assert answer.error_code == code, (to, answer)
        assert node.replicas.controller_epoch == node.controller.epoch  # nothing learnt from it
    assert node.replicas.partitions.get(("z", 0)) is part and part.log.log_end_offset == 0  # nothing changed
    # a newer registration than the one this broker has seen itself is taken (Kafka's rule)
    assert (await node.call(api_key, build(node.to(broker_epoch=epoch + 1)))).error_code == 0


async def test_stop_replica_fences_an_older_leader_epoch_and_deletes_on_topic_deletion(node):
    assert await node.controller.create_topic("s", 1, 1, {}) is None
    await node.call(ApiKey.LEADER_AND_ISR, requests.leader_and_isr(node.to(), node.cache, [("s", 0)]))
    node.replicas.partitions[("s", 0)].become(
        leader=1,
        leader_epoch=3,
        isr=[1],
        replicas=[1],
        zk_version=1,
        broker_epoch=node.replicas.broker_epoch,
        controller_epoch=1,
    )
    old = await node.call(
        ApiKey.STOP_REPLICA, requests.stop_replica(node.to(), [("s", 0)], delete=False, leader_epoch=2)
    )
    assert [e.error_code for e in old.partition_errors] == [ErrorCode.FENCED_LEADER_EPOCH]
    assert ("s", 0) in node.replicas.partitions
    gone = await node.call(ApiKey.STOP_REPLICA, requests.stop_replica(node.to(), [("s", 0)], delete=True))
    assert [e.error_code for e in gone.partition_errors] == [0] and ("s", 0) not in node.replicas.partitions


async def test_offset_for_leader_epoch_from_followers_and_consumers(node):
    assert await node.controller.create_topic("e", 1, 1, {}) is None
    await node.call(ApiKey.LEADER_AND_ISR, requests.leader_and_isr(node.to(), node.cache, [("e", 0)]))
    Q = m.OffsetForLeaderEpochRequest

    async def ask(replica_id: int, current: int, version: int = 4) -> m.Message:
        answer = await node.call(
            ApiKey.OFFSETS_FOR_LEADER_EPOCH,
            Q(
                replica_id=replica_id,
                topics=[
                    Q.OffsetForLeaderTopic(
                        topic="e",
                        partitions=[
                            Q.OffsetForLeaderPartition(partition=0, current_leader_epoch=current, leader_epoch=0)
                        ],
                    )
                ],
            ),
            version,
        )
        return answer.topics[0].partitions[0]

    a = await ask(1, 0)
    assert (a.error_code, a.leader_epoch, a.end_offset) == (0, 0, 0)
    assert (await ask(1, 5)).error_code == ErrorCode.UNKNOWN_LEADER_EPOCH
    assert (await ask(9, 0)).error_code == ErrorCode.CLUSTER_AUTHORIZATION_FAILED  # no such broker
    assert (await ask(-1, -1)).error_code == 0  # a consumer that does not know the epoch
    assert (await ask(-2, 0, version=2)).error_code == 0  # before v3: no replica id


async def test_follower_refusal_names_another_cluster_or_an_unknown_broker(node):
    assert replica_control.follower_refusal(node.ctx, "Fetch", 1, node.cache.cluster_id) is None
    assert replica_control.follower_refusal(node.ctx, "Fetch", 1) is None
    code, message = replica_control.follower_refusal(node.ctx, "Fetch", 1, "another-cluster")
    assert code == ErrorCode.INCONSISTENT_CLUSTER_ID and "another-cluster" in message
    assert replica_control.follower_refusal(node.ctx, "Fetch", 4)[0] == ErrorCode.CLUSTER_AUTHORIZATION_FAILED


async def test_controlled_shutdown_answers_in_kafkas_schema(node):
    R = m.ControlledShutdownRequest
    ok = await node.call(ApiKey.CONTROLLED_SHUTDOWN, R(broker_id=1, broker_epoch=node.replicas.broker_epoch))
    assert ok.error_code == 0 and ok.remaining_partitions == []
    stale = await node.call(ApiKey.CONTROLLED_SHUTDOWN, R(broker_id=1, broker_epoch=5))
    assert stale.error_code == ErrorCode.STALE_BROKER_EPOCH
    v1 = await node.call(ApiKey.CONTROLLED_SHUTDOWN, R(broker_id=1), version=1)  # no broker epoch field
    assert v1.error_code == ErrorCode.STALE_BROKER_EPOCH


async def test_a_refusal_is_logged_once_however_often_it_comes(node, caplog):
    assert await node.controller.create_topic("once", 1, 1, {}) is None
    await node.call(ApiKey.LEADER_AND_ISR, requests.leader_and_isr(node.to(), node.cache, [("once", 0)]))
    stale = requests.update_metadata(node.to(controller_epoch=node.controller.epoch - 1), node.cache, [("once", 0)])
    with caplog.at_level("WARNING", logger="broker.server.handlers.replica_control"):
        for _ in range(3):
            assert (await node.call(ApiKey.UPDATE_METADATA, stale)).error_code == ErrorCode.STALE_CONTROLLER_EPOCH
    refusals = [r for r in caplog.records if "STALE_CONTROLLER_EPOCH" in r.getMessage()]
    assert len(refusals) == 1 and "older than" in refusals[0].getMessage()


async def test_a_follower_fetch_from_a_stranger_or_another_cluster_is_refused(node):
    from broker.server.handlers import fetch

    assert await node.controller.create_topic("f", 1, 1, {}) is None
    await node.call(ApiKey.LEADER_AND_ISR, requests.leader_and_isr(node.to(), node.cache, [("f", 0)]))
    F = m.FetchRequest

    async def follower_fetch(replica_id: int, cluster_id: str | None) -> m.FetchResponse:
        body = F(
            replica_id=replica_id,
            cluster_id=cluster_id,
            max_wait_ms=0,
            min_bytes=1,
            topics=[
                F.FetchTopic(
                    topic="f",
                    partitions=[
                        F.FetchPartition(partition=0, fetch_offset=0, current_leader_epoch=0, partition_max_bytes=1024)
                    ],
                )
            ],
        )
        header = RequestHeader(int(ApiKey.FETCH), 12, 1, "replica-fetcher-test")
        reply = await fetch.handle(node.ctx, header, F.decode(body.encode(12), 12))
        return reply.body

    ok = await follower_fetch(1, node.cache.cluster_id)
    assert ok.error_code == 0 and ok.responses[0].partitions[0].error_code == 0
    for replica_id, cluster_id, code in (
        (7, node.cache.cluster_id, ErrorCode.CLUSTER_AUTHORIZATION_FAILED),
        (1, "another-cluster", ErrorCode.INCONSISTENT_CLUSTER_ID),
    ):
        refused = await follower_fetch(replica_id, cluster_id)
        assert refused.error_code == code and refused.responses[0].partitions[0].error_code == code
