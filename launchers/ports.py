"""A free loopback port for a server a launcher is about to start.

It must never return a port on anything but 127.0.0.1.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port the kernel just said was free on 127.0.0.1 (racy, but fine on one machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
