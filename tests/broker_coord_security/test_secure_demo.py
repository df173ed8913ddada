"""`pybroker demo failover` on a secured cluster: coord members with TLS on their secureClientPort
(client certificates needed) and DIGEST-MD5 users, brokers reaching coord over it with a
certificate and a JAAS login under zookeeper.set.acl, every broker listener SASL_SSL with
SCRAM-SHA-512 (between brokers too), and the demo's clients on client properties. The demo
kills the leader and the controller under acks=all load; not one acknowledged record may be
lost. `pybroker status` and `pybroker cluster` read the same cluster with the same files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.broker_security.conftest import toml_value

pytestmark = pytest.mark.cluster

SCRAM_JAAS = (
    'org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="broker-secret";'
)


def secured_files(tmp_path: Path, pki) -> tuple[Path, Path, list[str]]:
    """(the brokers' extra TOML, the clients' properties, the coord members' -D options)."""
    zk_jaas = tmp_path / "zk-client.conf"
    zk_jaas.write_text(
        "Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
        '  username="bob" password="bobsecret";\n};\n'
    )
    broker = {
        "ssl.keystore.location": str(pki.server.keystore),
        "ssl.truststore.location": str(pki.ca.cert),
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": SCRAM_JAAS,
        "zookeeper.ssl.client.enable": True,
        "zookeeper.ssl.keystore.location": str(pki.client.keystore),
        "zookeeper.ssl.truststore.location": str(pki.ca.cert),
        "java.security.auth.login.config": str(zk_jaas),
        "zookeeper.set.acl": True,
    }
    broker_toml = tmp_path / "secure-broker.toml"
    broker_toml.write_text("".join(f"{toml_value(k)} = {toml_value(v)}\n" for k, v in broker.items()))
    client = tmp_path / "client.properties"
    client.write_text(
        "security.protocol=SASL_SSL\n"
        f"ssl.truststore.location={pki.ca.cert}\n"
        "sasl.mechanism=SCRAM-SHA-512\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="app" password="app-secret";\n'
    )
    coord = [
        f"ssl.keyStore.location={pki.server.keystore}",
        "ssl.keyStore.type=PEM",
        f"ssl.trustStore.location={pki.ca.cert}",
        "ssl.trustStore.type=PEM",
        "ssl.clientAuth=need",
    ]
    return broker_toml, client, coord


def _flags(broker_toml: Path, client: Path, coord: list[str], jaas: Path) -> list[str]:
    return [
        "--listener-protocol",
        "SASL_SSL",
        "--broker-config",
        str(broker_toml),
        "--command-config",
        str(client),
        *(x for o in coord for x in ("--coord-option", o)),
        "--coord-jaas",
        str(jaas),
    ]


def test_demo_failover_sasl_ssl_with_secure_coord_loses_nothing(tmp_path: Path, pki, jaas_file):
    broker_toml, client, coord = secured_files(tmp_path, pki)
    data_dir = tmp_path / "cluster"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "broker",
            "demo",
            "failover",
            "--data-dir",
            str(data_dir),
            "--warmup",
            "2",
            "--dwell",
            "1",
            "--act-timeout",
            "15",
            "--session-timeout-ms",
            "3000",
            *_flags(broker_toml, client, coord, jaas_file),
        ],
        capture_output=True,
        text=True,
        timeout=170,
    )
    text = out.stdout
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    assert out.returncode == 0, text + out.stderr[-3000:]
    assert len(re.findall(r"SIGKILL broker (\d+) \(pid", text)) == 2, text
    acked = re.search(r"acknowledged \(acks=all\)\s+(\d+)", text)
    assert acked and int(acked.group(1)) > 0, text
    assert "acknowledged but lost             0" in text, text


def test_cluster_and_status_on_a_secured_cluster(tmp_path: Path, pki, jaas_file):
    broker_toml, client, coord = secured_files(tmp_path, pki)
    data_dir = tmp_path / "cluster"
    up = subprocess.run(
        [
            sys.executable,
            "-m",
            "broker",
            "cluster",
            "up",
            "--nodes",
            "2",
            "--coord-nodes",
            "1",
            "--data-dir",
            str(data_dir),
            *_flags(broker_toml, client, coord, jaas_file),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        state = json.loads((data_dir / "cluster.json").read_text())
        secure_port = state["coord"][0]["secure_port"]
        assert f"coord connect      127.0.0.1:{secure_port}" in up.stdout
        # status from the state file, and with the files named explicitly
        from_state = subprocess.run(
            [sys.executable, "-m", "broker", "status", "--data-dir", str(data_dir), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert from_state.returncode == 0, from_state.stderr
        report = json.loads(from_state.stdout)
        assert report["errors"] == [] and report["controller_epoch"] is not None, report
        assert [c["mode"] for c in report["coord"]] == ["standalone"], report  # `srvr` over TLS
        assert sorted(b["id"] for b in report["brokers"]) == [1, 2], report
        bootstrap = ",".join(f"127.0.0.1:{b['port']}" for b in state["brokers"])
        named = subprocess.run(
            [
                sys.executable,
                "-m",
                "broker",
                "status",
                "--bootstrap",
                bootstrap,
                "--coord",
                f"127.0.0.1:{secure_port}",
                "--command-config",
                str(client),
                "--coord-config",
                str(broker_toml),
                "--data-dir",
                str(tmp_path / "none"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert named.returncode == 0, named.stderr
        assert "not readable" not in named.stdout and "unreachable" not in named.stdout, named.stdout
        # without the coord settings coord cannot be read (TLS with client certificates only)
        bare = subprocess.run(
            [
                sys.executable,
                "-m",
                "broker",
                "status",
                "--bootstrap",
                bootstrap,
                "--coord",
                f"127.0.0.1:{secure_port}",
                "--command-config",
                str(client),
                "--data-dir",
                str(tmp_path / "none"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "not readable" in bare.stdout + bare.stderr, bare.stdout + bare.stderr
        killed = subprocess.run(
            [sys.executable, "-m", "broker", "cluster", "kill", "2", "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert killed.returncode == 0, killed.stderr
        started = subprocess.run(
            [sys.executable, "-m", "broker", "cluster", "start", "2", "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert started.returncode == 0, started.stdout + started.stderr
    finally:
        down = subprocess.run(
            [sys.executable, "-m", "broker", "cluster", "down", "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert down.returncode == 0, down.stderr
