"""Apache's zkCli.sh (the Java client) against coord's security: TLS with a client
certificate on secureClientPort (Netty socket, PEM keystore) and a SASL DIGEST-MD5 login
from a JAAS Client section.

Debian's zookeeper.jar names netty-handler but not netty-codec / netty-resolver in its
Class-Path, so the TLS run puts those two on the classpath itself (CLIENT_JVMFLAGS comes
after zkCli.sh's own -cp, and the last -cp wins)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.coord_security.conftest import Pki, SecureCoord

ZKCLI = Path("/usr/share/zookeeper/bin/zkCli.sh")
JARS = [
    "/etc/zookeeper/conf",
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/netty-codec.jar",
    "/usr/share/java/netty-resolver.jar",
]

pytestmark = [
    pytest.mark.zookeeper,
    pytest.mark.skipif(
        not ZKCLI.exists() or shutil.which("java") is None, reason="zkCli.sh needs Debian's zookeeper package and java"
    ),
]


def _zkcli(server: str, jvmflags: list[str], *commands: str) -> str:
    script = "\n".join([*commands, "quit"]) + "\n"
    env = {**os.environ, "CLIENT_JVMFLAGS": " ".join(jvmflags)}
    out = subprocess.run(
        [str(ZKCLI), "-server", server], input=script, capture_output=True, text=True, timeout=90, env=env
    )
    return out.stdout + out.stderr


def test_zkcli_over_tls_with_a_client_certificate(secure_coord: SecureCoord, pki: Pki) -> None:
    if not all(Path(j).exists() for j in JARS):
        pytest.skip("netty-codec / netty-resolver jars not installed")
    flags = [
        "-cp",
        ":".join(JARS),
        "-Dzookeeper.client.secure=true",
        "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
        f"-Dzookeeper.ssl.keyStore.location={pki.client.keystore}",
        "-Dzookeeper.ssl.keyStore.type=PEM",
        f"-Dzookeeper.ssl.trustStore.location={pki.ca.cert}",
        "-Dzookeeper.ssl.trustStore.type=PEM",
    ]
    out = _zkcli(secure_coord.secure_hosts, flags, "create /zkcli-tls hello", "get /zkcli-tls", "whoami")
    assert "Created /zkcli-tls" in out, out
    assert "hello" in out
    assert "x509: CN=client,O=pybroker tests" in out  # ZooKeeper's x509 id, same spelling


def test_zkcli_sasl_digest_login_from_a_jaas_client_section(secure_coord: SecureCoord, tmp_path: Path) -> None:
    jaas = tmp_path / "client-jaas.conf"
    jaas.write_text(
        "Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
        '  username="carol"\n  password="carolsecret";\n};\n'
    )
    out = _zkcli(
        secure_coord.hosts,
        [f"-Djava.security.auth.login.config={jaas}"],
        "create /zkcli-sasl hi sasl:carol:cdrwa",
        "getAcl /zkcli-sasl",
        "whoami",
        "get /zkcli-sasl",
    )
    assert "SaslAuthenticated" in out, out
    assert "Created /zkcli-sasl" in out
    assert "sasl: carol" in out
    wrong = tmp_path / "wrong-jaas.conf"
    wrong.write_text(jaas.read_text().replace("carolsecret", "guess"))
    out = _zkcli(secure_coord.hosts, [f"-Djava.security.auth.login.config={wrong}"], "get /zkcli-sasl")
    # As with Apache's server, the refused client is disconnected (it sees a connection
    # loss, or AuthFailed) and reads nothing.
    assert "ConnectionLoss" in out or "AuthFailed" in out, out
    assert "hi\n" not in out
    assert "SASL authentication failed: wrong username or password (user 'carol')" in secure_coord.log()
