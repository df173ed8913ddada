"""Run a coord ensemble of N `python -m coord start --peers ...` processes on loopback.

Used by `pybroker perf coord --ensemble N` to measure our ensemble the same way as a real
ZooKeeper one (`launchers.zookeeper.ZooKeeperEnsemble`: same `hosts`, `start`,
`leader`, `kill`, `restart`, `close`). It must never bind anything but 127.0.0.1 and
never leave a process behind when `close()` runs.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from coord.client.four_letter import four_letter
from launchers.ports import free_port


class LocalEnsemble:
    def __init__(self, size: int = 3, tick_ms: int = 2000) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="coord-ensemble-"))
        self.tick_ms = tick_ms
        self.sids = list(range(1, size + 1))
        self.client_port = {sid: free_port() for sid in self.sids}
        self.peers = ",".join(f"{sid}=127.0.0.1:{free_port()}:{free_port()}" for sid in self.sids)
        self.procs: dict[int, subprocess.Popen] = {}

    @property
    def hosts(self) -> str:
        return ",".join(f"127.0.0.1:{self.client_port[sid]}" for sid in self.sids)

    def start(self, timeout: float = 60.0) -> None:
        for sid in self.sids:
            self.restart(sid, wait=False)
        self.wait_serving(timeout)

    def restart(self, sid: int, wait: bool = True) -> None:
        """Start member `sid` (again, on the same data dir)."""
        with open(self.root / f"coord{sid}.log", "ab") as log:
            self.procs[sid] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "coord",
                    "start",
                    "--id",
                    str(sid),
                    "--data-dir",
                    str(self.root / f"data{sid}"),
                    "--client-port",
                    str(self.client_port[sid]),
                    "--peers",
                    self.peers,
                    "--tick-ms",
                    str(self.tick_ms),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        if wait:
            self.wait_serving()

    def mode(self, sid: int) -> str | None:
        try:
            text = four_letter("127.0.0.1", self.client_port[sid], "srvr", 1.0)
        except OSError:
            return None
        modes = [line[6:].strip() for line in text.splitlines() if line.startswith("Mode: ")]
        return modes[0] if modes else None

    def wait_serving(self, timeout: float = 60.0) -> None:
        """Until every running member serves (one leader, the rest followers)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = [sid for sid, p in self.procs.items() if p.poll() is None]
            if all(self.mode(sid) is not None for sid in running) and self.leader() is not None:
                return
            time.sleep(0.1)
        raise TimeoutError(f"the ensemble did not serve within {timeout}s; logs in {self.root}")

    def leader(self) -> int | None:
        leaders = [sid for sid in self.procs if self.mode(sid) == "leader"]
        return leaders[0] if len(leaders) == 1 else None

    def kill(self, sid: int) -> None:
        proc = self.procs[sid]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def close(self) -> None:
        for sid in self.procs:
            self.kill(sid)
        shutil.rmtree(self.root, ignore_errors=True)
