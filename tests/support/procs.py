"""Real server processes for tests: start `pybroker ...` or `python -m coord ...`, wait for a
port, kill, pause.

Every process a test starts goes through `ProcessGroup`, whose `close()` kills whatever is
still running, so a failing test never leaves servers behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

LOG_TAIL_LINES = 60  # enough for a traceback and the shutdown steps before it


def wait_for_port(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)


class ProcessGroup:
    """The server processes one test started; `close()` stops them all."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start `python -m broker ARGS...` with its output in `log_dir/name.log`."""
        return self._spawn(name, "broker", args, env)

    def start_coord(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start `python -m coord ARGS...`: coord's own command line, which loads no broker."""
        return self._spawn(name, "coord", args, env)

    def _spawn(self, name: str, module: str, args: tuple[str, ...], env: dict[str, str] | None) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child writes to it until stopped
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        log.close()
        self.procs[name] = proc
        return proc

    def log_text(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def kill(self, name: str) -> None:
        """SIGKILL: the crash a power cut or OOM killer gives."""
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def pause(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGCONT)

    def stop(self, name: str, timeout: float = 15.0) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code. A non-zero exit also
        writes the tail of the process's log to stderr (pytest shows it with the failed
        `assert stop(...) == 0`), since the log directory rarely survives a CI run."""
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=timeout)
        if code != 0:
            tail = self.log_tail(name)
            print(f"{name} exited {code} when asked to stop; the end of its log:\n{tail}", file=sys.stderr)
        return code

    def log_tail(self, name: str, lines: int = LOG_TAIL_LINES) -> str:
        """The last `lines` lines of `name`'s log (its exit reason, traceback or error)."""
        return "\n".join(self.log_text(name).splitlines()[-lines:])

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait(timeout=10)
