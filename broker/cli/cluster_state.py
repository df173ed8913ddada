"""The state file of a local cluster (`<data-dir>/cluster.json`) and process liveness.

`pybroker cluster up` writes what it started (every coord member and broker: id, ports,
pid, the exact command, its log file) so that `cluster down|kill|start|status` and the
demo, run later from another shell, find the same processes. This module only reads and
writes that file and asks the kernel whether a pid still runs our program; it must
never start or signal a process.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_FILE = "cluster.json"
STATE_VERSION = 1


class ClusterStateError(RuntimeError):
    """The state file is missing, unreadable, or names something it does not hold."""


@dataclass
class Member:
    """One server process of the cluster: a coord member or a broker."""

    kind: str  # "coord" or "broker"
    id: int
    host: str
    port: int  # client port (coord) or listener port (broker)
    command: list[str]
    log: str
    data_dir: str
    pid: int = 0
    quorum_port: int = 0  # coord only: ZAB peer traffic
    election_port: int = 0  # coord only: leader election
    metrics_port: int = 0  # broker only: Prometheus /metrics and the web console (0: none)
    secure_port: int = 0  # coord only: secureClientPort, the TLS client port (0: none)

    @property
    def console_url(self) -> str | None:
        return f"http://{self.host}:{self.metrics_port}/" if self.metrics_port else None

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.id}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class ClusterState:
    data_dir: str
    coord: list[Member] = field(default_factory=list)
    brokers: list[Member] = field(default_factory=list)
    session_timeout_ms: int = 6000
    # a secured cluster (cluster_security): each broker's listener protocol, Kafka broker settings
    # added to every broker's file, client properties, and coord's own options and JAAS file
    listener_protocol: str = "PLAINTEXT"
    broker_config: str = ""
    command_config: str = ""
    coord_options: list[str] = field(default_factory=list)  # ZooKeeper's NAME=VALUE, as `coord start -D`
    coord_jaas: str = ""
    version: int = STATE_VERSION

    @property
    def bootstrap(self) -> str:
        return ",".join(b.address for b in self.brokers)

    @property
    def coord_connect(self) -> str:
        """The connect string clients use: the TLS ports where coord has them."""
        return ",".join(f"{c.host}:{c.secure_port or c.port}" for c in self.coord)

    @property
    def members(self) -> list[Member]:
        return [*self.coord, *self.brokers]

    def broker(self, broker_id: int) -> Member:
        return _find(self.brokers, broker_id, "broker", "brokers")

    def coord_member(self, member_id: int) -> Member:
        return _find(self.coord, member_id, "coord member", "members")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ClusterState:
        raw = json.loads(text)
        if raw.get("version") != STATE_VERSION:
            raise ClusterStateError(f"state file version {raw.get('version')!r} is not {STATE_VERSION}")
        secured = {
            k: raw[k]
            for k in ("listener_protocol", "broker_config", "command_config", "coord_options", "coord_jaas")
            if k in raw
        }
        return cls(
            data_dir=raw["data_dir"],
            session_timeout_ms=int(raw["session_timeout_ms"]),
            coord=[Member(**m) for m in raw["coord"]],
            brokers=[Member(**m) for m in raw["brokers"]],
            **secured,
        )


def state_path(data_dir: Path) -> Path:
    return Path(data_dir) / STATE_FILE


def save_state(state: ClusterState) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a file."""
    path = state_path(Path(state.data_dir))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state.to_json())
    os.replace(tmp, path)


def load_state(data_dir: Path) -> ClusterState:
    path = state_path(data_dir)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ClusterStateError(
            f"no cluster state in {data_dir} ({STATE_FILE} missing): "
            f"start one with `pybroker cluster up --data-dir {data_dir}`"
        ) from None
    try:
        return ClusterState.from_json(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise ClusterStateError(f"{path} is not a pybroker cluster state file: {exc}") from None


def remove_state(data_dir: Path) -> None:
    state_path(data_dir).unlink(missing_ok=True)


def pid_alive(pid: int, command: list[str] | None = None) -> bool:
    """True if `pid` runs and is not a zombie (and, given `command`, runs that program).

    A zombie child of ours is reaped here, so a killed broker the demo started reads as
    gone. The command check guards against a recycled pid after a reboot or a long pause.
    """
    if pid <= 0:
        return False
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass  # not our child: ask /proc
    try:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
            return False
        if command is None:
            return True
        cmdline = _cmdline(pid)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return [a.decode(errors="replace") for a in cmdline if a][1:] == command[1:]


def _cmdline(pid: int, patience: float = 0.5) -> list[bytes]:
    """The arguments of `pid`. Right after Popen returns, the kernel may still be finishing
    the exec and /proc/<pid>/cmdline reads empty for a moment: a just-spawned broker then
    looked like someone else's process and `cluster up` declared it dead. A live user
    process always has arguments, so an empty answer is read again (briefly)."""
    deadline = time.monotonic() + patience
    while True:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        if raw or time.monotonic() > deadline:
            return raw.split(b"\0")
        time.sleep(0.001)


def _find(members: list[Member], member_id: int, what: str, plural: str) -> Member:
    for m in members:
        if m.id == member_id:
            return m
    known = ", ".join(str(m.id) for m in members)
    raise ClusterStateError(f"no {what} {member_id} in this cluster ({plural}: {known})")
