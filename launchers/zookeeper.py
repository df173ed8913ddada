"""Start and stop a real Apache ZooKeeper (Debian's package) on loopback: standalone, or
an ensemble of N JVMs.

Used by `pybroker perf coord --compare-zookeeper` and by the test fixture
(tests/support/zookeeper.py), so our server and client can be measured and checked
against the real thing. It runs `java ... ZooKeeperServerMain zoo.cfg` (an ensemble
member: `QuorumPeerMain`, with `server.N` lines and a `myid` file) in a private data
dir with a small heap, waits until it serves (`srvr` shows its Mode), and kills the JVM on stop.
It must never bind anything but 127.0.0.1, never touch /etc/zookeeper or /var/lib, and
never leave a JVM behind when `stop()` or the context manager exits.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from coord.client.four_letter import four_letter
from launchers.ports import free_port

JARS_DIR = Path("/usr/share/java")
MAIN_CLASS = "org.apache.zookeeper.server.ZooKeeperServerMain"
QUORUM_MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"


class ZooKeeperNotInstalledError(RuntimeError):
    """java or the zookeeper jars are missing (install with `apt-get install zookeeper`)."""


def zookeeper_classpath(admin: bool = False) -> str:
    """zookeeper.jar (its manifest lists its dependencies) plus an slf4j binding; with
    `admin`, the servlet API too, which Debian's manifest leaves out and without which
    ZooKeeper silently skips its AdminServer ("Unable to load jetty")."""
    jar = JARS_DIR / "zookeeper.jar"
    if shutil.which("java") is None or not jar.exists():
        raise ZooKeeperNotInstalledError(
            "real ZooKeeper needs java and /usr/share/java/zookeeper.jar: apt-get install -y zookeeper"
        )
    extra = [JARS_DIR / "slf4j-nop.jar"] + ([JARS_DIR / "servlet-api.jar"] if admin else [])
    return ":".join([str(jar), *(str(p) for p in extra if p.exists())])


class ZooKeeperProcess:
    """One standalone ZooKeeper JVM; `start()`, `stop()`, `pause()`/`resume()`;
    restartable on the same data dir and port (sessions survive a quick restart)."""

    def __init__(
        self,
        data_dir: Path | None = None,
        port: int | None = None,
        tick_ms: int = 2000,
        heap_mb: int = 256,
        myid: int = 0,
        servers: dict[int, tuple[int, int]] | None = None,
        admin_port: int | None = None,
    ) -> None:
        """`servers` (id -> (quorum port, election port)) and `myid` make it a member of
        an ensemble; without them it runs standalone. `admin_port` turns on ZooKeeper's
        AdminServer (HTTP JSON commands) on 127.0.0.1 at that port."""
        self._own_dir = data_dir is None
        self.myid = myid
        self.servers = servers or {}
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="zk-"))
        self.port = port or free_port()
        self.tick_ms = tick_ms
        self.heap_mb = heap_mb
        self.admin_port = admin_port
        self.proc: subprocess.Popen | None = None

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        cfg = self.data_dir / "zoo.cfg"
        cfg.write_text(
            f"tickTime={self.tick_ms}\ndataDir={self.data_dir / 'data'}\n"
            f"clientPort={self.port}\nclientPortAddress=127.0.0.1\n"
            + self._admin_lines()
            + "4lw.commands.whitelist=*\n"
            "maxClientCnxns=0\nextendedTypesEnabled=true\n"
            + "".join(f"server.{sid}=127.0.0.1:{q}:{e}\n" for sid, (q, e) in self.servers.items())
            + ("initLimit=10\nsyncLimit=5\n" if self.servers else "")
        )
        if self.servers:
            (self.data_dir / "data" / "myid").write_text(f"{self.myid}\n")
        return cfg

    def _admin_lines(self) -> str:
        if self.admin_port is None:
            return "admin.enableServer=false\n"
        return f"admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={self.admin_port}\n"

    def start(self, timeout: float = 60.0, wait: bool = True) -> None:
        """Start the JVM; with `wait`, return once it serves (an ensemble member serves
        only once a quorum of members runs: start them all with wait=False, then
        `wait_serving`)."""
        cfg = self._write_config()
        log = open(self.data_dir / "zookeeper.log", "ab")  # noqa: SIM115 - the JVM writes to it until stop()
        cmd = [
            "java",
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseSerialGC",
            "-Xss512k",
            f"-Dzookeeper.admin.enableServer={str(self.admin_port is not None).lower()}",
            "-cp",
            zookeeper_classpath(admin=self.admin_port is not None),
            QUORUM_MAIN_CLASS if self.servers else MAIN_CLASS,
            str(cfg),
        ]
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        log.close()
        if wait:
            self.wait_serving(timeout)

    def mode(self) -> str | None:
        """leader / follower / standalone, or None while it does not serve."""
        try:
            text = four_letter("127.0.0.1", self.port, "srvr", 1.0)
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("Mode: "):
                return line[6:].strip()
        return None

    def wait_serving(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"ZooKeeper exited with {self.proc.returncode}; see {self.data_dir / 'zookeeper.log'}"
                )
            # ruok says imok before the server serves; srvr's Mode line means it does.
            if self.mode() is not None:
                return
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"ZooKeeper on port {self.port} did not answer ruok in {timeout}s")

    def pause(self) -> None:
        """SIGSTOP the JVM: clients see silence, as with a hung server."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Kill the JVM (SIGKILL: ZooKeeper's log is durable, and tests want it fast)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGCONT)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class ZooKeeperEnsemble:
    """`size` real ZooKeeper members on loopback (QuorumPeerMain), in one temp dir."""

    def __init__(self, size: int = 3, tick_ms: int = 2000, heap_mb: int = 128) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="zk-ensemble-"))
        ports = [free_port() for _ in range(3 * size)]
        servers = {sid: (ports[size + sid - 1], ports[2 * size + sid - 1]) for sid in range(1, size + 1)}
        self.members = {
            sid: ZooKeeperProcess(self.root / f"zk{sid}", ports[sid - 1], tick_ms, heap_mb, myid=sid, servers=servers)
            for sid in servers
        }

    @property
    def hosts(self) -> str:
        return ",".join(m.hosts for m in self.members.values())

    def start(self, timeout: float = 120.0) -> None:
        for member in self.members.values():
            member.start(wait=False)
        for member in self.members.values():
            member.wait_serving(timeout)

    def leader(self) -> int | None:
        leaders = [sid for sid, m in self.members.items() if m.mode() == "leader"]
        return leaders[0] if len(leaders) == 1 else None

    def kill(self, sid: int) -> None:
        self.members[sid].stop()

    def restart(self, sid: int) -> None:
        self.members[sid].start()

    def close(self) -> None:
        for member in self.members.values():
            member.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def running_zookeeper(**kwargs: object) -> Iterator[ZooKeeperProcess]:
    """A started ZooKeeper, killed (and its temp dir removed) on exit."""
    zk = ZooKeeperProcess(**kwargs)  # type: ignore[arg-type]  # ZooKeeperProcess's own keyword arguments, passed through
    try:
        zk.start()
        yield zk
    finally:
        zk.close()
