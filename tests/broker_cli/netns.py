"""Three "machines" on one Linux host: network namespaces joined by veth pairs to a bridge.

The lab makes its own namespaces (one per host, plus one holding the bridge, so the
machine's own network is never touched) and removes them all in `close()`. Addresses
come from a private /24 that exists only inside these namespaces. `unavailable()` says
why the machine does not allow this (not root, no `ip`, namespaces refused) so a test
can skip with that reason. It must never change the root namespace's interfaces.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)


def unavailable() -> str | None:
    """None if namespaces and veth pairs can be made here, else the reason."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    probe = f"pbprobe{os.getpid()}"
    made = _ip("netns", "add", probe)
    if made.returncode != 0:
        return f"`ip netns add` is refused here: {made.stderr.strip()}"
    try:
        veth = _ip("-n", probe, "link", "add", "pbp0", "type", "veth", "peer", "name", "pbp1")
        if veth.returncode != 0:
            return f"veth pairs cannot be made here: {veth.stderr.strip()}"
    finally:
        _ip("netns", "del", probe)
    return None


class NetnsLab:
    def __init__(self, hosts: int) -> None:
        tag = os.getpid() % 100000
        self.prefix = f"pb{tag}"
        self.subnet = f"10.213.{tag % 250}"
        self.hub = f"{self.prefix}-sw"
        self.hosts = [f"{self.prefix}-h{i}" for i in range(1, hosts + 1)]
        self.addresses = [f"{self.subnet}.{i}" for i in range(1, hosts + 1)]
        self._made: list[str] = []

    def _must(self, *args: str) -> None:
        out = _ip(*args)
        if out.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {out.stderr.strip()}")

    def create(self) -> None:
        for ns in [self.hub, *self.hosts]:
            self._must("netns", "add", ns)
            self._made.append(ns)
            self._must("-n", ns, "link", "set", "lo", "up")
        self._must("-n", self.hub, "link", "add", "br0", "type", "bridge")
        self._must("-n", self.hub, "link", "set", "br0", "up")
        for i, (ns, address) in enumerate(zip(self.hosts, self.addresses, strict=True), start=1):
            # Both ends are born in the hub namespace, then one moves to the host's.
            self._must("-n", self.hub, "link", "add", f"port{i}", "type", "veth", "peer", "name", f"eth{i}")
            self._must("-n", self.hub, "link", "set", f"eth{i}", "netns", ns)
            self._must("-n", self.hub, "link", "set", f"port{i}", "master", "br0")
            self._must("-n", self.hub, "link", "set", f"port{i}", "up")
            self._must("-n", ns, "addr", "add", f"{address}/24", "dev", f"eth{i}")
            self._must("-n", ns, "link", "set", f"eth{i}", "up")

    def command(self, host: int, args: list[str]) -> list[str]:
        """`args` run inside host number `host` (1-based)."""
        return ["ip", "netns", "exec", self.hosts[host - 1], *args]

    def close(self) -> None:
        for ns in reversed(self._made):
            _ip("netns", "del", ns)
        self._made.clear()
