"""SASL_SSL everywhere, coord included: three brokers with a SASL_SSL client listener and a
SASL_SSL inter-broker listener (SCRAM-SHA-512), each reaching coord over TLS with a client
certificate and a DIGEST-MD5 login, znodes under zookeeper.set.acl. The leader of an RF 3,
min.insync.replicas 2 topic is SIGKILLed mid-stream; every acknowledged record is read back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.broker_security.conftest import toml_value
from tests.coord_security.conftest import start_secure
from tests.support.leader_kill import acked_records_survive_a_leader_kill
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port

pytestmark = pytest.mark.cluster

SCRAM_JAAS = (
    'org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="broker-secret";'
)


def test_sasl_ssl_cluster_with_secure_coord_loses_no_acknowledged_record(
    procs: ProcessGroup, tmp_path: Path, pki, jaas_file
):
    secure_port, *ports = free_ports(7)
    coord = start_secure(
        procs,
        tmp_path / "coord",
        "coord",
        *pki.client_tls_flags(secure_port),
        "--jaas-config",
        str(jaas_file),
        secure_port=secure_port,
    )
    jaas = tmp_path / "zk-client.conf"
    jaas.write_text(
        "Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
        '  username="bob" password="bobsecret";\n};\n'
    )
    to_coord = {
        "zookeeper.ssl.client.enable": True,
        "zookeeper.ssl.keystore.location": str(pki.client.keystore),
        "zookeeper.ssl.truststore.location": str(pki.ca.cert),
        "java.security.auth.login.config": str(jaas),
        "zookeeper.set.acl": True,
    }
    client_ports, internal_ports = ports[:3], ports[3:]
    confs = []
    for i in (1, 2, 3):
        settings = {
            "listeners": f"CLIENT://127.0.0.1:{client_ports[i - 1]},INTERNAL://127.0.0.1:{internal_ports[i - 1]}",
            "listener.security.protocol.map": "CLIENT:SASL_SSL,INTERNAL:SASL_SSL",
            "inter.broker.listener.name": "INTERNAL",
            "ssl.keystore.location": str(pki.server.keystore),
            "ssl.truststore.location": str(pki.ca.cert),
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
            "listener.name.internal.scram-sha-512.sasl.jaas.config": SCRAM_JAAS,
            "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
            "super.users": "User:broker;User:app",
            "zookeeper.session.timeout.ms": 4000,
            "replica.lag.time.max.ms": 3000,
            **to_coord,
        }
        conf = tmp_path / f"broker{i}.toml"
        conf.write_text("".join(f"{toml_value(k)} = {toml_value(v)}\n" for k, v in settings.items()))
        confs.append(conf)
    for user, password in (("broker", "broker-secret"), ("app", "app-secret")):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "broker",
                "users",
                "add",
                user,
                "--password",
                password,
                "--mechanism",
                "SCRAM-SHA-512",
                "--coord",
                coord.secure_hosts,
                "--config",
                str(confs[0]),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
    for i in (1, 2, 3):
        procs.start(
            f"broker{i}",
            "broker",
            "start",
            "--id",
            str(i),
            "--data-dir",
            str(tmp_path / f"b{i}"),
            "--coord",
            coord.secure_hosts,
            "--config",
            str(confs[i - 1]),
        )
    for port in ports:
        wait_for_port(port, timeout=60)
    security = dict(
        security_protocol="SASL_SSL",
        ssl_cafile=str(pki.ca.cert),
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username="app",
        sasl_plain_password="app-secret",
    )
    acked_records_survive_a_leader_kill(procs, client_ports, security, patience=90)
