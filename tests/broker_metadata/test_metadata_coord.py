"""The metadata store and controller against our real coord server (in-process).

The controller's channel is a small recorder here: these tests are about what reaches
coord and what the controller tells the brokers (LeaderAndIsr / StopReplica), not about
logs or sockets.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from broker.metadata import controller_requests as requests
from broker.metadata import znodes as Z
from broker.metadata.cache import MetadataCache
from broker.metadata.controller import Controller
from broker.metadata.store import MetadataStore
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from coord.client import CoordClient
from coord.server.config import ServerConfig
from coord.server.server import CoordServer
from tests.support.ports import free_port


class Recorder:
    """A controller channel that records what it was asked to send and answers at once."""

    def __init__(self) -> None:
        self.leading: dict[tuple[str, int], Z.PartitionState] = {}
        self.stopped: list[tuple[str, int, bool]] = []

    def send(self, broker_id, api_key, body) -> asyncio.Future:
        if api_key == ApiKey.LEADER_AND_ISR:
            for topic, st in requests.leader_and_isr_states(body, requests.VERSIONS[api_key]):
                if st.leader == broker_id:
                    self.leading[(topic, st.partition_index)] = Z.PartitionState(
                        st.leader, st.leader_epoch, tuple(st.isr), st.controller_epoch, st.partition_epoch
                    )
        elif api_key == ApiKey.STOP_REPLICA:
            for order in requests.stop_replica_orders(body, requests.VERSIONS[api_key]):
                self.stopped.append((order.topic, order.partition, order.delete))
                self.leading.pop((order.topic, order.partition), None)
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(m.API_BY_KEY[api_key].response(error_code=0))
        return fut

    def forget(self, broker_id) -> None:
        pass


@pytest.fixture
async def coord_port(tmp_path):
    server = CoordServer(ServerConfig(server_id=1, data_dir=tmp_path / "coord", client_port=free_port()))
    await server.start()
    try:
        yield server.port
    finally:
        await server.stop()


async def start_broker(
    port: int, broker_port: int = 9092, *, broker_id: int = 1, channel: object = None
) -> tuple[CoordClient, Controller, object]:
    """A broker's metadata side (store + controller) with a recording channel."""
    client = CoordClient(f"127.0.0.1:{port}", session_timeout=10.0)
    await client.start()
    store = MetadataStore(client, MetadataCache(), Z.BrokerInfo(broker_id, "127.0.0.1", broker_port))
    await store.ensure_paths()
    await store.ensure_cluster_id()
    await store.register()
    channel = channel if channel is not None else Recorder()
    controller = Controller(store, channel)
    await controller.start()
    return client, controller, channel


async def test_topics_go_to_coord_in_kafkas_layout(coord_port):
    client, controller, recorder = await start_broker(coord_port)
    try:
        assert await controller.create_topic("orders", 2, 1, {"retention.ms": "5000"}) is None
        refusal = await controller.create_topic("orders", 1, 1, {})
        assert refusal is not None and refusal[0] == ErrorCode.TOPIC_ALREADY_EXISTS
        state = json.loads((await client.get(Z.state_path("orders", 1)))[0])
        assert (state["leader"], state["leader_epoch"], state["isr"], state["controller_epoch"]) == (1, 0, [1], 1)
        assert json.loads((await client.get("/brokers/topics/orders"))[0])["partitions"] == {"0": [1], "1": [1]}
        assert set(recorder.leading) == {("orders", 0), ("orders", 1)}
        assert controller.cache.topic("orders").configs == {"retention.ms": "5000"}
        _, stat = await client.get(Z.state_path("orders", 1))  # read with its last write's zxid (restart checks)
        assert controller.core.topics["orders"].states[1].modified_zxid == stat.mzxid > 0
        assert await controller.delete_topic("orders") is None
        assert await client.exists("/brokers/topics/orders") is None
        assert await client.exists("/config/topics/orders") is None
        assert sorted(recorder.stopped) == [("orders", 0, True), ("orders", 1, True)]
    finally:
        await client.stop()


async def test_racing_creates_of_one_topic_give_one_success_and_topic_already_exists(coord_port):
    """The loser's multi fails on a create after its controller-epoch check, which the
    server reports as rolled back: the answer must name the create's NodeExists."""
    client, controller, _ = await start_broker(coord_port)
    try:
        answers = await asyncio.gather(*(controller.create_topic("race", 2, 1, {}) for _ in range(4)))
        assert answers.count(None) == 1, answers
        assert {a[0] for a in answers if a is not None} == {ErrorCode.TOPIC_ALREADY_EXISTS}, answers
    finally:
        await client.stop()


async def test_restart_replaces_stale_registration_and_fences_the_old_controller(coord_port):
    old_client, old_controller, _ = await start_broker(coord_port)
    await old_controller.create_topic("t", 1, 1, {})
    # The "old process" never closed its session: its ephemerals are still there.
    new_client, new_controller, recorder = await start_broker(coord_port)
    try:
        assert new_controller.epoch == old_controller.epoch + 1
        assert recorder.leading[("t", 0)].leader == 1
        refusal = await old_controller.create_topic("u", 1, 1, {})
        assert refusal is not None and refusal[0] == ErrorCode.NOT_CONTROLLER
        assert await new_client.exists("/brokers/topics/u") is None
    finally:
        await new_client.stop()
        await old_client.stop()


async def test_cache_follows_topics_created_by_someone_else(coord_port):
    client, controller, _ = await start_broker(coord_port)
    admin = CoordClient(f"127.0.0.1:{coord_port}")
    await admin.start()
    try:
        topic_id = Z.new_cluster_id()  # a topic id has the cluster id's form
        await admin.create("/brokers/topics/external", Z.encode_assignment({0: [1]}, topic_id))
        for _ in range(100):
            if controller.cache.topic("external") is not None:
                break
            await asyncio.sleep(0.05)
        assert controller.cache.topic("external").assignment == {0: [1]}
        assert controller.cache.topic("external").topic_id == Z.topic_id_bytes(topic_id) != bytes(16)
    finally:
        await admin.stop()
        await client.stop()
