"""kazoo's own TLS and SASL test classes (shipped in the kazoo package) run against coord.

kazoo's `KazooTestHarness` asks `kazoo.testing.harness.get_global_cluster()` for a
cluster of Apache ZooKeeper servers it launches with java; the cluster it returns is
cached in module globals keyed by the ZOOKEEPER_* environment. `CoordCluster` stands in
that cache: the same interface (members with `address`, `secure_address`, `running`;
`start`, `stop`, `terminate`, `get_ssl_client_configuration`) over real `coord start`
processes configured as kazoo configures ZooKeeper (its JAAS users, its super digest
`super:test`, a secureClientPort with certificates made here). kazoo's test code runs
unchanged; only where the servers come from differs.
"""

from __future__ import annotations

import os
import unittest
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.coord_security.certs import ThrowawayCA
from tests.support.ports import free_port
from tests.support.procs import ProcessGroup, wait_for_port

harness = pytest.importorskip("kazoo.testing.harness")
kazoo_sasl = pytest.importorskip("kazoo.tests.test_sasl")
kazoo_client_tests = pytest.importorskip("kazoo.tests.test_client")

# kazoo.testing.harness's JAAS users and super digest (sha1 of "super:test").
KAZOO_JAAS = """Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="super_secret"
    user_jaasuser="jaas_password";
};"""
KAZOO_SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="


class CoordMember:
    def __init__(self, cluster: CoordCluster) -> None:
        self.cluster = cluster
        self.client_port = free_port()
        self.secure_client_port = free_port()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def secure_address(self) -> str:
        return f"127.0.0.1:{self.secure_client_port}"

    @property
    def running(self) -> bool:
        proc = self.cluster.procs.procs.get("coord")
        return proc is not None and proc.poll() is None


class CoordCluster:
    """One standalone coord server in the shape of kazoo's ZookeeperCluster."""

    def __init__(self, procs: ProcessGroup, root: Path) -> None:
        self.procs = procs
        self.root = root
        self.ca = ThrowawayCA(root / "pki")
        self.server = self.ca.issue("server")
        self.client = self.ca.issue("client")
        self.jaas = root / "jaas.conf"
        self.jaas.write_text(KAZOO_JAAS)
        # kazoo's own harness enables every four-letter word (server_version() reads `envi`).
        self.config = root / "coord.toml"
        self.config.write_text('four_letter_whitelist = "*"\n')
        self.members = [CoordMember(self)]

    def __iter__(self) -> Iterator[CoordMember]:
        return iter(self.members)

    def __getitem__(self, k: int) -> CoordMember:
        return self.members[k]

    def start(self) -> None:
        m = self.members[0]
        if m.running:
            return
        self.procs.start_coord(
            "coord",
            "start",
            "--data-dir",
            str(self.root / "data"),
            "--client-port",
            str(m.client_port),
            "-D",
            f"secureClientPort={m.secure_client_port}",
            "-D",
            f"ssl.keyStore.location={self.server.keystore}",
            "-D",
            f"ssl.trustStore.location={self.ca.cert}",
            "-D",
            "zookeeper.DigestAuthenticationProvider.superDigest=" + KAZOO_SUPER_DIGEST,
            "--jaas-config",
            str(self.jaas),
            "--config",
            str(self.config),
        )
        wait_for_port(m.client_port)
        wait_for_port(m.secure_client_port)

    def stop(self) -> None:
        if self.members[0].running:
            self.procs.stop("coord")

    terminate = stop
    reset = stop

    def get_ssl_client_configuration(self) -> dict[str, bytes]:
        return {
            "client_key": self.client.key.read_bytes(),
            "client_cert": self.client.cert.read_bytes(),
            "ca_cert": self.ca.cert.read_bytes(),
        }


def _run_kazoo_case(
    case: type[unittest.TestCase], cluster: CoordCluster, jaas: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run one of kazoo's TestCase classes with `cluster` as its global cluster."""
    monkeypatch.setenv("ZOOKEEPER_VERSION", "3.8.4")
    monkeypatch.delenv("ZOOKEEPER_JAAS_AUTH", raising=False)
    if jaas is not None:
        monkeypatch.setenv("ZOOKEEPER_JAAS_AUTH", jaas)
    conf = {
        k: os.environ.get(k, harness.CLUSTER_DEFAULTS.get(k))
        for k in [
            "ZOOKEEPER_PATH",
            "ZOOKEEPER_CLASSPATH",
            "ZOOKEEPER_PORT_OFFSET",
            "ZOOKEEPER_CLUSTER_SIZE",
            "ZOOKEEPER_VERSION",
            "ZOOKEEPER_OBSERVER_START_ID",
            "ZOOKEEPER_JAAS_AUTH",
            "ZOOKEEPER_LOCAL_SESSION_RO",
        ]
    }
    monkeypatch.setattr(harness, "CLUSTER", cluster)
    monkeypatch.setattr(harness, "CLUSTER_CONF", conf)
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(case)
    result = unittest.TestResult()
    suite.run(result)
    problems = [f"{test.id()}:\n{trace}" for test, trace in result.errors + result.failures]
    assert result.testsRun > 0 and not problems, "\n".join(problems)
    assert not result.skipped, result.skipped


@pytest.fixture
def coord_cluster(procs: ProcessGroup, tmp_path: Path) -> Iterator[CoordCluster]:
    cluster = CoordCluster(procs, tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()


def test_kazoo_ssl_client_tests(coord_cluster: CoordCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    _run_kazoo_case(kazoo_client_tests.TestSSLClient, coord_cluster, None, monkeypatch)


@pytest.mark.parametrize("case", ["TestSASLDigestAuthentication", "TestLegacySASLDigestAuthentication"])
def test_kazoo_sasl_digest_tests(case: str, coord_cluster: CoordCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    _run_kazoo_case(getattr(kazoo_sasl, case), coord_cluster, "digest", monkeypatch)
