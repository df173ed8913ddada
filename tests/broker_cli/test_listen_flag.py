"""`pybroker broker start --listen HOST:PORT --advertise HOST:PORT` (Kafka's listeners and
advertised.listeners): the refusals, the TOML spellings, and a broker that registers the
address of a proxy in front of it, so clients that only reach the proxy are served."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from broker.cli.broker_cmd import parse_listener
from broker.config import ConfigError, load_config
from client import Admin, Consumer, NewTopic, Producer, TopicPartition
from tests.support.faultproxy import FaultProxy
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port


def test_listen_gives_host_and_port():
    assert parse_listener("10.0.0.1:9092", None, None) == {"host": "10.0.0.1", "port": 9092}
    assert parse_listener("PLAINTEXT://broker-a.example:9093", None, None) == {"host": "broker-a.example", "port": 9093}
    assert parse_listener(None, "127.0.0.2", 9) == {"host": "127.0.0.2", "port": 9}


def test_advertise_names_the_registered_address_and_allows_a_wildcard_bind():
    assert parse_listener("0.0.0.0:9092", None, None, "10.0.0.1:19092") == {
        "host": "0.0.0.0",
        "port": 9092,
        "advertised_host": "10.0.0.1",
        "advertised_port": 19092,
    }


@pytest.mark.parametrize(
    "value, advertise, message",
    [
        ("nope", None, "expected HOST:PORT"),
        (":9092", None, "expected HOST:PORT"),
        ("h:0", None, "expected HOST:PORT"),
        ("h:70000", None, "expected HOST:PORT"),
        ("0.0.0.0:9092", None, "needs --advertise"),
        ("h:1", "h", "--advertise 'h': expected HOST:PORT"),
        ("h:1", "0.0.0.0:1", "wildcard"),
    ],
)
def test_listen_refusals_say_what_to_give(value, advertise, message):
    with pytest.raises(ConfigError, match=message):
        parse_listener(value, None, None, advertise)


def test_listen_and_host_port_together_are_refused():
    with pytest.raises(ConfigError, match="not both"):
        parse_listener("10.0.0.1:9092", None, 9092)


def test_toml_takes_kafkas_listener_spellings(tmp_path: Path):
    conf = tmp_path / "b.toml"
    conf.write_text('listeners = "PLAINTEXT://0.0.0.0:9094"\n"advertised.listeners" = "PLAINTEXT://b1.example:19094"\n')
    cfg = load_config(conf)
    assert (cfg.host, cfg.port, cfg.advertised_host, cfg.advertised_port) == ("0.0.0.0", 9094, "b1.example", 19094)
    conf.write_text('listeners = "PLAINTEXT://a:1,SSL://a:2"\n')  # several listeners: kept as given
    cfg = load_config(conf)
    assert (cfg.listeners, cfg.host, cfg.port) == ("PLAINTEXT://a:1,SSL://a:2", "a", 1)
    conf.write_text('listeners = "PLAINTEXT://a:1,INTERNAL://a:2"\n')  # a name the protocol map lacks
    with pytest.raises(ConfigError, match=r"not in listener\.security\.protocol\.map"):
        load_config(conf)


@pytest.mark.cluster
def test_a_broker_behind_a_proxy_advertises_the_proxy(procs: ProcessGroup, tmp_path: Path):
    coord_port, broker_port, proxy_port = free_ports(3)
    procs.start(
        "coord", "coord", "start", "--id", "1", "--data-dir", str(tmp_path / "coord"), "--client-port", str(coord_port)
    )
    wait_for_port(coord_port)
    with FaultProxy(broker_port, listen_port=proxy_port) as proxy:
        procs.start(
            "broker",
            "broker",
            "start",
            "--id",
            "1",
            "--data-dir",
            str(tmp_path / "b1"),
            "--listen",
            f"0.0.0.0:{broker_port}",
            "--advertise",
            f"127.0.0.1:{proxy.listen_port}",
            "--coord",
            f"127.0.0.1:{coord_port}",
        )
        wait_for_port(broker_port, timeout=30)
        zk = KazooClient(hosts=f"127.0.0.1:{coord_port}")
        zk.start(timeout=10)
        try:
            registered = json.loads(zk.get("/brokers/ids/1")[0])
        finally:
            zk.stop()
            zk.close()
        assert (registered["host"], registered["port"]) == ("127.0.0.1", proxy.listen_port), registered
        bootstrap = f"127.0.0.1:{proxy.listen_port}"  # the client knows only the proxy
        with Admin(bootstrap_servers=bootstrap) as admin:
            admin.create_topics([NewTopic("behind", 1, 1)])
        with Producer(bootstrap_servers=bootstrap) as producer:
            meta = producer.send("behind", b"through the proxy").result(timeout=20)
        with Consumer(bootstrap_servers=bootstrap) as consumer:
            consumer.assign([TopicPartition("behind", 0)])
            consumer.seek(TopicPartition("behind", 0), meta.offset)
            records = consumer.poll(timeout_ms=10_000)
        assert [r.value for r in records] == [b"through the proxy"]
