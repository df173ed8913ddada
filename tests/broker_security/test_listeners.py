"""Kafka's listener split: a client listener and an inter-broker one on one broker. The
registration carries both endpoints in Kafka's JSON, Metadata names the endpoint of the listener
asked, and the inter-broker APIs are refused on the client listener (CLUSTER_AUTHORIZATION_FAILED)
while the inter-broker listener serves them."""

from __future__ import annotations

import json

from client.conn import BrokerConnection
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from coord.client import CoordClient

LISTENERS = {"PLAINTEXT": ("PLAINTEXT", None), "INTERNAL": ("PLAINTEXT", None)}


async def _metadata_ports(port: int) -> list[tuple[int, str, int]]:
    conn = await BrokerConnection.open("127.0.0.1", port)
    try:
        answer = await conn.request(ApiKey.METADATA, m.MetadataRequest(topics=None))
        return [(b.node_id, b.host, b.port) for b in answer.brokers]
    finally:
        conn.close()


async def test_each_listener_advertises_itself_and_registration_is_kafkas(secure_node):
    secure_node.start(LISTENERS, {"inter.broker.listener.name": "INTERNAL"})
    client, internal = secure_node.ports["PLAINTEXT"], secure_node.ports["INTERNAL"]
    assert await _metadata_ports(client) == [(1, "127.0.0.1", client)]
    assert await _metadata_ports(internal) == [(1, "127.0.0.1", internal)]
    coord = CoordClient(f"127.0.0.1:{secure_node.coord_port}")
    await coord.start()
    try:
        data, _ = await coord.get("/brokers/ids/1")
    finally:
        await coord.stop()
    reg = json.loads(data)
    assert reg["endpoints"] == [f"PLAINTEXT://127.0.0.1:{client}", f"INTERNAL://127.0.0.1:{internal}"]
    assert reg["listener_security_protocol_map"] == {"PLAINTEXT": "PLAINTEXT", "INTERNAL": "PLAINTEXT"}
    assert (reg["host"], reg["port"], reg["version"]) == ("127.0.0.1", client, 5)


async def _controller_and_follower_requests(port: int) -> tuple[int, int, int]:
    """(LeaderAndIsr's error, UpdateMetadata's error, a follower Fetch's error) sent to `port`
    as broker 1 at controller epoch 0 (older than any the broker obeys)."""
    conn = await BrokerConnection.open("127.0.0.1", port)
    try:
        lai = await conn.request(
            ApiKey.LEADER_AND_ISR,
            m.LeaderAndIsrRequest(controller_id=1, controller_epoch=0, broker_epoch=-1),
            api_version=5,
        )
        um = await conn.request(
            ApiKey.UPDATE_METADATA,
            m.UpdateMetadataRequest(controller_id=1, controller_epoch=0, broker_epoch=-1),
            api_version=7,
        )
        fetch = await conn.request(ApiKey.FETCH, m.FetchRequest(replica_id=1, max_wait_ms=0, topics=[]), api_version=12)
        return lai.error_code, um.error_code, fetch.error_code
    finally:
        conn.close()


async def test_inter_broker_requests_only_on_the_inter_broker_listener(secure_node):
    secure_node.start(LISTENERS, {"inter.broker.listener.name": "INTERNAL"})
    refused = int(ErrorCode.CLUSTER_AUTHORIZATION_FAILED)
    assert await _controller_and_follower_requests(secure_node.ports["PLAINTEXT"]) == (refused, refused, refused)
    # On INTERNAL the same requests reach the epoch checks: stale, not unauthorized; the fetch is served.
    stale = int(ErrorCode.STALE_CONTROLLER_EPOCH)
    assert await _controller_and_follower_requests(secure_node.ports["INTERNAL"]) == (stale, stale, 0)
    assert "arrived on listener PLAINTEXT" in secure_node.log()
    assert secure_node.alive()


def test_listener_settings_parse_as_kafka_names_them_and_refuse_what_cannot_work(tmp_path):
    import pytest

    from broker.config import ConfigError, load_config
    from broker.security.listeners import ListenerError, advertised_listeners, bound_listeners, inter_broker_listener

    conf = tmp_path / "b.toml"
    conf.write_text(
        'listeners = "CLIENT://:9092,REPL://10.1.0.1:9093"\n'
        '"advertised.listeners" = "CLIENT://kafka1.example:9092"\n'
        '"listener.security.protocol.map" = "CLIENT:SASL_SSL,REPL:SSL"\n'
        '"inter.broker.listener.name" = "repl"\n'
    )
    cfg = load_config(conf)
    bound = bound_listeners(cfg)
    assert [(b.name, b.host, b.port, b.protocol) for b in bound] == [
        ("CLIENT", "0.0.0.0", 9092, "SASL_SSL"),
        ("REPL", "10.1.0.1", 9093, "SSL"),
    ]
    assert [(a.name, a.host) for a in advertised_listeners(cfg, bound)] == [
        ("CLIENT", "kafka1.example"),
        ("REPL", "10.1.0.1"),
    ]
    assert inter_broker_listener(cfg, bound).name == "REPL"
    with pytest.raises(ConfigError, match="address flags"):  # --port with listeners in the file
        load_config(conf, port=9999)
    conf.write_text('listeners = "A://h:1,B://h:2"\n"listener.security.protocol.map" = "A:PLAINTEXT,B:PLAINTEXT"\n')
    with pytest.raises(ListenerError, match=r"inter\.broker\.listener\.name"):  # which one do brokers use?
        inter_broker_listener(load_config(conf), bound_listeners(load_config(conf)))
    conf.write_text('listeners = "PLAINTEXT://h:1,PLAINTEXT://h:2"\n')
    with pytest.raises(ConfigError, match="named twice"):
        load_config(conf)
