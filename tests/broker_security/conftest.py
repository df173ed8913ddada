"""Fixtures: a `pybroker start` node configured by a TOML file of Kafka settings (listeners,
TLS, SASL), on free loopback ports, with certificates made for the test run."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.broker_security.certs import Authority
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port

# Settings that turn the authorizer on, with the plaintext INTERNAL listener's anonymous peers
# (the other brokers, and the tests' admin commands) as super users, as many Kafka deployments do.
ACLS_ON = {
    "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
    "super.users": "User:ANONYMOUS;User:admin",
}


def toml_value(value: object) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


@dataclass
class SecureNode:
    procs: ProcessGroup
    directory: Path
    coord_port: int
    ports: dict[str, int] = field(default_factory=dict)
    name: str = "node"

    def start(self, listeners: dict[str, tuple[str, int | None]], settings: dict[str, object]) -> None:
        """`listeners`: name -> (protocol, port or None for a free one)."""
        free = iter(free_ports(len(listeners)))
        self.ports = {n: p or next(free) for n, (_, p) in listeners.items()}
        config = {
            "listeners": ",".join(f"{n}://127.0.0.1:{self.ports[n]}" for n in listeners),
            "listener.security.protocol.map": ",".join(f"{n}:{proto}" for n, (proto, _) in listeners.items()),
            **settings,
        }
        path = self.directory / "broker.toml"
        path.write_text("".join(f"{toml_value(k)} = {toml_value(v)}\n" for k, v in config.items()))
        self.procs.start(
            self.name,
            "start",
            "--data-dir",
            str(self.directory / "data"),
            "--coord-port",
            str(self.coord_port),
            "--config",
            str(path),
        )
        try:
            for port in self.ports.values():
                wait_for_port(port, timeout=30)
        except TimeoutError:
            raise AssertionError(f"node did not start; its log:\n{self.log()}") from None

    def grant(
        self, listener: str, principal: str, *operations: str, topic: str | None = None, group: str | None = None
    ) -> None:
        """`pybroker acls add` through `listener` (a plaintext one whose ANONYMOUS is a super user)."""
        resource = ["--topic", topic] if topic else ["--group", group or ""]
        ops = [x for op in operations for x in ("--operation", op)]
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "broker",
                "acls",
                "add",
                "--bootstrap",
                f"127.0.0.1:{self.ports[listener]}",
                "--allow-principal",
                principal,
                *ops,
                *resource,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr

    def log(self) -> str:
        return self.procs.log_text(self.name)

    def alive(self) -> bool:
        return self.procs.procs[self.name].poll() is None


@pytest.fixture
def secure_node(procs: ProcessGroup, tmp_path: Path) -> SecureNode:
    return SecureNode(procs, tmp_path, free_ports(1)[0])


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("pki"))
