"""What the limit tests measure of a server process, and the misbehaving clients they use.

Sizes come from /proc (the server's resident memory and open descriptors); clients come from
many loopback addresses (127.0.0.2, .3, ...: Linux routes all of 127/8 to lo) so that a test
can tell one address's connections from everyone else's.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def open_from(address: str, port: int, count: int, first: bytes = b"") -> list[socket.socket]:
    """`count` connections to 127.0.0.1:port from `address`, each having sent `first`."""
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.bind((address, 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        if first:
            s.sendall(first)
        socks.append(s)
    return socks


def closed_by_server(s: socket.socket, timeout: float) -> bool:
    """True if the server closes `s` within `timeout` (EOF or reset); data is skipped."""
    s.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not s.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except (TimeoutError, BlockingIOError):
        return False
    return False


def still_open(s: socket.socket) -> bool:
    """Whether the server has not closed `s` (checked without waiting)."""
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except (ConnectionResetError, BrokenPipeError):
        return False
    finally:
        s.setblocking(True)


def keepalive_on(port: int) -> bool:
    """Whether the server's accepted sockets on `port` have TCP keepalive on (ss shows the timer)."""
    out = subprocess.run(
        ["ss", "-tnoH", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True, timeout=10
    ).stdout
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines, f"no established connection on port {port}"
    return all("keepalive" in line for line in lines)


def close_all(socks: list[socket.socket]) -> None:
    for s in socks:
        s.close()
