"""Three brokers with SASL_SSL everywhere: clients and brokers on one SASL_SSL listener each,
SCRAM-SHA-512 between brokers, ACLs on with the brokers' own user as the super user. The
controller's requests, follower fetches and ISR changes all travel authenticated and
encrypted: a topic with RF 3 and min.insync.replicas 2 takes acks=all writes, survives its
leader being killed, and every acknowledged record is read back."""

from __future__ import annotations

import pytest

from client import Admin, NewTopic, Producer
from tests.broker_security.conftest import toml_value
from tests.broker_security.test_sasl import users_add
from tests.support.leader_kill import acked_records_survive_a_leader_kill
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.cluster

SCRAM_JAAS = (
    'org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="broker-secret";'
)


class _CoordOnly:
    def __init__(self, port: int) -> None:
        self.coord_port = port


def test_replication_and_failover_over_sasl_ssl(procs: ProcessGroup, tmp_path, authority):
    coord_port, *ports = free_ports(4)
    procs.start(
        "coord",
        "coord",
        "start",
        "--id",
        "1",
        "--data-dir",
        str(tmp_path / "coord"),
        "--client-port",
        str(coord_port),
        "--tick-ms",
        "1000",
    )
    wait_for_port(coord_port)
    users_add(_CoordOnly(coord_port), "broker", "broker-secret", "SCRAM-SHA-512")
    users_add(_CoordOnly(coord_port), "app", "app-secret", "SCRAM-SHA-512")
    server = authority.issue("cluster-broker", "broker", server=True)
    for i, port in enumerate(ports, start=1):
        settings = {
            "listeners": f"SASL_SSL://127.0.0.1:{port}",
            "ssl.keystore.location": str(server.combined),
            "ssl.truststore.location": str(authority.pem.cert),
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": SCRAM_JAAS,
            "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
            "super.users": "User:broker;User:app",
            "zookeeper.session.timeout.ms": 4000,
            "replica.lag.time.max.ms": 3000,
        }
        conf = tmp_path / f"broker{i}.toml"
        conf.write_text("".join(f"{toml_value(k)} = {toml_value(v)}\n" for k, v in settings.items()))
        procs.start(
            f"broker{i}",
            "broker",
            "start",
            "--id",
            str(i),
            "--data-dir",
            str(tmp_path / f"b{i}"),
            "--coord",
            f"127.0.0.1:{coord_port}",
            "--config",
            str(conf),
        )
    for port in ports:
        wait_for_port(port, timeout=30)
    security = dict(
        security_protocol="SASL_SSL",
        ssl_cafile=str(authority.pem.cert),
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username="app",
        sasl_plain_password="app-secret",
    )
    acked_records_survive_a_leader_kill(procs, ports, security, patience=60)


def test_brokers_replicate_over_the_inter_broker_listener_only(procs: ProcessGroup, tmp_path):
    """Two brokers, each with a client listener and an INTERNAL one: replication works, and
    clients are only ever told the client listeners' ports."""
    coord_port, *ports = free_ports(5)
    procs.start(
        "coord",
        "coord",
        "start",
        "--id",
        "1",
        "--data-dir",
        str(tmp_path / "coord"),
        "--client-port",
        str(coord_port),
        "--tick-ms",
        "1000",
    )
    wait_for_port(coord_port)
    client_ports, internal_ports = ports[:2], ports[2:4]
    for i in (1, 2):
        listeners = f"CLIENT://127.0.0.1:{client_ports[i - 1]},INTERNAL://127.0.0.1:{internal_ports[i - 1]}"
        settings = {
            "listeners": listeners,
            "listener.security.protocol.map": "CLIENT:PLAINTEXT,INTERNAL:PLAINTEXT",
            "inter.broker.listener.name": "INTERNAL",
            "zookeeper.session.timeout.ms": 4000,
        }
        conf = tmp_path / f"broker{i}.toml"
        conf.write_text("".join(f"{toml_value(k)} = {toml_value(v)}\n" for k, v in settings.items()))
        procs.start(
            f"broker{i}",
            "broker",
            "start",
            "--id",
            str(i),
            "--data-dir",
            str(tmp_path / f"b{i}"),
            "--coord",
            f"127.0.0.1:{coord_port}",
            "--config",
            str(conf),
        )
    for port in ports[:4]:
        wait_for_port(port, timeout=30)
    bootstrap = ",".join(f"127.0.0.1:{p}" for p in client_ports)
    with Admin(bootstrap) as admin:
        admin.create_topics([NewTopic("split", 1, 2, {"min.insync.replicas": "2"})])
        wait_until(
            "an ISR of 2 over INTERNAL",
            lambda: (
                (parts := admin.describe_topics(["split"])[0].partitions)
                and parts[0].leader > 0
                and len(parts[0].isr) == 2
                and parts
            ),
            60,
        )
        assert sorted(b.port for b in admin.describe_cluster().brokers) == sorted(client_ports)
    with Producer(bootstrap, acks="all") as producer:
        for i in range(20):
            producer.send("split", b"%d" % i).result(timeout=30)
