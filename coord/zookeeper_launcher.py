"""Start and stop a real Apache ZooKeeper (Debian's package) standalone on loopback.

Used by `pybroker perf coord --compare-zookeeper` and by the test fixture
(tests/support/zookeeper.py), so our server and client can be measured and checked
against the real thing. It runs `java ... ZooKeeperServerMain zoo.cfg` in a private data
dir with a small heap, waits until it serves (`srvr` shows its Mode), and kills the JVM on stop.
It must never bind anything but 127.0.0.1, never touch /etc/zookeeper or /var/lib, and
never leave a JVM behind when `stop()` or the context manager exits.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

JARS_DIR = Path("/usr/share/java")
MAIN_CLASS = "org.apache.zookeeper.server.ZooKeeperServerMain"


class ZooKeeperNotInstalled(RuntimeError):
    """java or the zookeeper jars are missing (install with `apt-get install zookeeper`)."""


def zookeeper_classpath() -> str:
    """zookeeper.jar (its manifest lists its dependencies) plus an slf4j binding."""
    jar = JARS_DIR / "zookeeper.jar"
    if shutil.which("java") is None or not jar.exists():
        raise ZooKeeperNotInstalled(
            "real ZooKeeper needs java and /usr/share/java/zookeeper.jar: "
            "apt-get install -y zookeeper")
    binding = JARS_DIR / "slf4j-nop.jar"
    return f"{jar}:{binding}" if binding.exists() else str(jar)


def four_letter(host: str, port: int, word: str, timeout: float = 2.0) -> str:
    """Send a four-letter word and return the whole answer."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(word.encode())
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                return b"".join(chunks).decode(errors="replace")
            chunks.append(data)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ZooKeeperProcess:
    """One standalone ZooKeeper JVM; `start()`, `stop()`, `pause()`/`resume()`;
    restartable on the same data dir and port (sessions survive a quick restart)."""

    def __init__(self, data_dir: Path | None = None, port: int | None = None,
                 tick_ms: int = 2000, heap_mb: int = 256) -> None:
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="zk-"))
        self.port = port or _free_port()
        self.tick_ms = tick_ms
        self.heap_mb = heap_mb
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
            "admin.enableServer=false\n4lw.commands.whitelist=*\n"
            "maxClientCnxns=0\nextendedTypesEnabled=true\n")
        return cfg

    def start(self, timeout: float = 60.0) -> None:
        cfg = self._write_config()
        log = open(self.data_dir / "zookeeper.log", "ab")
        cmd = ["java", f"-Xmx{self.heap_mb}m", "-XX:+UseSerialGC", "-Xss512k",
               "-Dzookeeper.admin.enableServer=false", "-cp", zookeeper_classpath(),
               MAIN_CLASS, str(cfg)]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self._wait_ruok(timeout)

    def _wait_ruok(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"ZooKeeper exited with {self.proc.returncode}; see "
                                   f"{self.data_dir / 'zookeeper.log'}")
            try:
                # ruok says imok before the server serves; srvr's Mode line means it does.
                if "Mode:" in four_letter("127.0.0.1", self.port, "srvr", 1.0):
                    return
            except OSError:
                pass
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


@contextmanager
def running_zookeeper(**kwargs: object) -> Iterator[ZooKeeperProcess]:
    """A started ZooKeeper, killed (and its temp dir removed) on exit."""
    zk = ZooKeeperProcess(**kwargs)  # type: ignore[arg-type]
    try:
        zk.start()
        yield zk
    finally:
        zk.close()
