"""Free loopback ports for tests that start real servers.

A port is chosen below the kernel's ephemeral range: `bind(0)` hands out ports from that
range, which is also where every outgoing connection takes its source port, so a port
chosen there can be taken by some client's connection (or the other xdist worker's)
before the server started with it binds (seen: a coord member failing with "address
already in use" and a stranger's connection on another member's quorum port). Below the
range only another test's explicit choice can collide, and the port is checked bindable.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_FLOOR = 10_000  # above the well-known and common service ports
_rng = random.SystemRandom()


def _below_ephemeral() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32_768  # Linux's default range starts here
    return max(low - 1, _FLOOR + 1_000)


def free_ports(n: int) -> list[int]:
    """`n` distinct free ports, all held open at once while they are chosen."""
    top = _below_ephemeral()
    socks: list[socket.socket] = []
    try:
        for _ in range(50 * n):  # bounded: a busy range fails loudly instead of spinning
            if len(socks) == n:
                break
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", _rng.randint(_FLOOR, top)))
            except OSError:
                s.close()
                continue
            socks.append(s)
        if len(socks) < n:
            raise RuntimeError(f"found only {len(socks)} of {n} free ports below {top}")
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    """One free port on 127.0.0.1, chosen as `free_ports` does."""
    return free_ports(1)[0]
