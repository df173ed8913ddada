"""Fixtures of the coord security tests: a throwaway PKI, a JAAS file, and real
`coord start` processes configured with ZooKeeper's security settings."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.coord_security.certs import Identity, ThrowawayCA
from tests.support.ports import free_port
from tests.support.procs import ProcessGroup, wait_for_port

JAAS = """
// users the client port accepts with SASL DIGEST-MD5
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="adminsecret"
    user_bob="bobsecret"
    user_carol="carolsecret";
};
/* quorum SASL: what a member accepts, and what it presents */
QuorumServer {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_zkpeer="peersecret";
};
QuorumLearner {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="zkpeer"
    password="peersecret";
};
"""


@dataclass
class Pki:
    ca: ThrowawayCA
    server: Identity
    client: Identity
    rogue_ca: ThrowawayCA
    rogue: Identity  # signed by a CA nobody trusts
    elsewhere: Identity  # trusted, but names another host

    def client_tls_flags(self, secure_port: int, client_auth: str = "need") -> tuple[str, ...]:
        return (
            "-D",
            f"secureClientPort={secure_port}",
            "-D",
            f"ssl.keyStore.location={self.server.keystore}",
            "-D",
            "ssl.keyStore.type=PEM",
            "-D",
            f"ssl.trustStore.location={self.ca.cert}",
            "-D",
            "ssl.trustStore.type=PEM",
            "-D",
            f"ssl.clientAuth={client_auth}",
        )

    def quorum_tls_flags(self) -> tuple[str, ...]:
        return (
            "-D",
            "sslQuorum=true",
            "-D",
            f"ssl.quorum.keyStore.location={self.server.keystore}",
            "-D",
            f"ssl.quorum.trustStore.location={self.ca.cert}",
        )


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    base = tmp_path_factory.mktemp("pki")
    ca = ThrowawayCA(base / "ca")
    rogue_ca = ThrowawayCA(base / "rogue", "rogue-ca")
    return Pki(
        ca,
        ca.issue("server"),
        ca.issue("client"),
        rogue_ca,
        rogue_ca.issue("rogue"),
        ca.issue("elsewhere", ("elsewhere.example",)),
    )


@pytest.fixture(scope="session")
def jaas_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jaas") / "jaas.conf"
    path.write_text(JAAS)
    return path


@dataclass
class SecureCoord:
    procs: ProcessGroup
    name: str
    port: int  # plaintext client port (SASL happens here)
    secure_port: int  # secureClientPort

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def secure_hosts(self) -> str:
        return f"127.0.0.1:{self.secure_port}"

    def log(self) -> str:
        return self.procs.log_text(self.name)


def start_secure(procs: ProcessGroup, data_dir: Path, name: str, *flags: str, secure_port: int = 0) -> SecureCoord:
    """`coord start` with `flags`; waits for the client port (and `secure_port`)."""
    port = free_port()
    procs.start_coord(
        name, "start", "--id", "1", "--data-dir", str(data_dir), "--client-port", str(port), "--tick-ms", "200", *flags
    )
    try:
        wait_for_port(port)
        if secure_port:
            wait_for_port(secure_port)
    except TimeoutError:
        raise AssertionError(procs.log_text(name)) from None
    return SecureCoord(procs, name, port, secure_port)


# What DigestAuthenticationProvider.generateDigest prints: user:base64(sha1(user:password)).
SUPER_DIGEST = "super:" + base64.b64encode(hashlib.sha1(b"super:adminsecret").digest()).decode()


@pytest.fixture(scope="module")
def secure_coord(tmp_path_factory: pytest.TempPathFactory, pki: Pki, jaas_file: Path) -> Iterator[SecureCoord]:
    """One standalone server for a module: TLS on secureClientPort (client certificates
    needed), SASL DIGEST-MD5 users from the JAAS file, a super digest."""
    base = tmp_path_factory.mktemp("secure")
    group = ProcessGroup(base)
    secure_port = free_port()
    try:
        yield start_secure(
            group,
            base / "data",
            "coord",
            *pki.client_tls_flags(secure_port),
            "--jaas-config",
            str(jaas_file),
            "-D",
            f"zookeeper.DigestAuthenticationProvider.superDigest={SUPER_DIGEST}",
            "-D",
            "zookeeper.superUser=super",
            secure_port=secure_port,
        )
    finally:
        group.close()
