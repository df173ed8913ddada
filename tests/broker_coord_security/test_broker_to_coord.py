"""A broker reaches coord over TLS (client certificate) with a SASL DIGEST-MD5 login from a JAAS
Client section, configured with Kafka's zookeeper.* names, and with zookeeper.set.acl=true its
znodes are readable by anyone but writable only by its identity (sensitive ones not even
readable); the coord CLI reaches the secure port with zkCli's -D names."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError

from client import Admin, NewTopic
from tests.broker_security.conftest import toml_value
from tests.coord_security.conftest import start_secure
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port

CLIENT_JAAS = (
    'Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  username="bob" password="%s";\n};\n'
)


def _broker(procs: ProcessGroup, tmp: Path, pki, coord, password: str = "bobsecret") -> tuple[Path, int]:
    jaas = tmp / "broker-jaas.conf"
    jaas.write_text(CLIENT_JAAS % password)
    port = free_ports(1)[0]
    settings = {
        "zookeeper.ssl.client.enable": True,
        "zookeeper.clientCnxnSocket": "org.apache.zookeeper.ClientCnxnSocketNetty",
        "zookeeper.ssl.keystore.location": str(pki.client.keystore),
        "zookeeper.ssl.keystore.type": "PEM",
        "zookeeper.ssl.truststore.location": str(pki.ca.cert),
        "zookeeper.ssl.truststore.type": "PEM",
        "java.security.auth.login.config": str(jaas),
        "zookeeper.set.acl": True,
        "zookeeper.session.timeout.ms": 6000,
    }
    conf = tmp / "broker.toml"
    conf.write_text("".join(f"{toml_value(k)} = {toml_value(v)}\n" for k, v in settings.items()))
    procs.start(
        "broker",
        "broker",
        "start",
        "--id",
        "1",
        "--data-dir",
        str(tmp / "b1"),
        "--port",
        str(port),
        "--coord",
        coord.secure_hosts,
        "--config",
        str(conf),
    )
    return conf, port


def test_broker_over_tls_and_sasl_with_set_acl(procs: ProcessGroup, tmp_path: Path, pki, jaas_file):
    secure_port = free_ports(1)[0]
    coord = start_secure(
        procs,
        tmp_path / "coord",
        "coord",
        *pki.client_tls_flags(secure_port),
        "--jaas-config",
        str(jaas_file),
        secure_port=secure_port,
    )
    conf, port = _broker(procs, tmp_path, pki, coord)
    try:
        wait_for_port(port, timeout=60)
    except TimeoutError:
        raise AssertionError(procs.log_text("broker")) from None
    with Admin(f"127.0.0.1:{port}") as admin:
        admin.create_topics([NewTopic("guarded", 1, 1)])
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "broker",
            "users",
            "add",
            "alice",
            "--password",
            "alice-secret",
            "--coord",
            coord.secure_hosts,
            "--config",
            str(conf),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr

    zk = KazooClient(hosts=coord.hosts)  # the plaintext port, unauthenticated
    zk.start(timeout=15)
    try:
        deadline = time.monotonic() + 30
        while not zk.exists("/controller") or not zk.exists("/brokers/topics/guarded/partitions/0/state"):
            assert time.monotonic() < deadline, "no controller / partition state"
            time.sleep(0.2)
        acl, _ = zk.get_acls("/brokers/ids/1")
        ids = sorted((a.id.scheme, a.id.id, a.perms) for a in acl)
        assert ("sasl", "bob", 31) in ids and ("world", "anyone", 1) in ids, ids
        assert any(s == "x509" and "CN=client" in i for s, i, _ in ids), ids
        readable = [
            "/brokers/ids/1",
            "/controller",
            "/brokers/topics/guarded",
            "/brokers/topics/guarded/partitions/0/state",
            "/config/topics/guarded",
        ]
        for path in readable:
            zk.get(path)
            with pytest.raises(NoAuthError):
                zk.set(path, b"{}")
            if path == "/controller":
                continue  # its parent is the root, world:anyone as in ZooKeeper (Kafka uses a chroot)
            with pytest.raises(NoAuthError):
                zk.delete(path, recursive=False)
        with pytest.raises(NoAuthError):
            zk.create("/brokers/ids/7", b"{}", ephemeral=True)
        for path in ("/config/users/alice", "/config/users"):  # sensitive: not even readable
            with pytest.raises(NoAuthError):
                zk.get(path)
            with pytest.raises(NoAuthError):
                zk.set(path, b"{}")
        assert json.loads(zk.get("/brokers/ids/1")[0])["port"] == port
    finally:
        zk.stop()
        zk.close()

    # the coord CLI on the secure port, as the brokers' identity: it may read the credentials
    jaas = tmp_path / "broker-jaas.conf"
    flags = [
        "--server",
        coord.secure_hosts,
        "-D",
        "zookeeper.client.secure=true",
        "-D",
        f"zookeeper.ssl.trustStore.location={pki.ca.cert}",
        "-D",
        f"zookeeper.ssl.keyStore.location={pki.client.keystore}",
        "--jaas-config",
        str(jaas),
    ]
    out = subprocess.run(
        [sys.executable, "-m", "coord", "get", "/config/users/alice", *flags],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "SCRAM-SHA-512" in out.stdout, out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "coord", "get", "/config/users/alice", "--server", coord.hosts],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "NOAUTH" in out.stderr.upper(), out.stderr


def test_a_wrong_coord_password_stops_the_broker_clearly(procs: ProcessGroup, tmp_path: Path, pki, jaas_file):
    secure_port = free_ports(1)[0]
    coord = start_secure(
        procs,
        tmp_path / "coord",
        "coord",
        *pki.client_tls_flags(secure_port),
        "--jaas-config",
        str(jaas_file),
        secure_port=secure_port,
    )
    _broker(procs, tmp_path, pki, coord, password="wrong")
    assert procs.procs["broker"].wait(timeout=60) != 0
    text = procs.log_text("broker")
    assert "cannot reach coord" in text and "sasl:bob" in text and "AUTHFAILED" in text, text
