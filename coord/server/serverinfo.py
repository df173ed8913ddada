"""What a running coord server reports about itself: the one source of the admin views.

ZooKeeper shows the same facts three ways: four-letter words (text), AdminServer
commands (JSON) and the Prometheus provider (metrics). Each of our three renderers
(`fourletter`, `admin`, `metrics`) reads the live server through the functions here,
so the three can never disagree or drift apart. Keys are ZooKeeper 3.8's own names.

`ServerStats` holds the few counters that are events rather than state (packets,
latencies, auth failures, response sizes); everything else is read from the server's
own structures when asked.

This module only reads: it must never change server state (except `ServerStats.reset`,
which `srst` asks for), never touch a socket, and never keep a copy of what it reports.
"""

from __future__ import annotations

import os
import platform
import resource
import socket
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from coord.server.config import ServerConfig
from coord.server.datatree import DataTree
from coord.server.snapshot import list_snapshots
from coord.server.watches import WatchManager

VERSION = "3.8.0-pybroker, built on 2026-01-01 00:00 UTC"
WINDOW = 1024  # latency observations kept for the readlatency/updatelatency quantiles
U64 = 2**64 - 1


class LatencySummary:
    """A ZooKeeper summary (count, sum and quantiles) of request latencies in ms.
    Count and sum cover the server's whole life; the quantiles the last `WINDOW`
    requests (ZooKeeper's cover a sliding 10 minutes)."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0
        self.recent: deque[int] = deque(maxlen=WINDOW)

    def observe(self, ms: int) -> None:
        self.count += 1
        self.total += ms
        self.recent.append(ms)

    def quantiles(self, qs: tuple[float, ...]) -> list[tuple[float, float]]:
        values = sorted(self.recent)
        if not values:
            return [(q, float("nan")) for q in qs]
        return [(q, float(values[min(len(values) - 1, int(q * len(values)))])) for q in qs]


@dataclass
class ServerStats:
    """Event counters; `reset` (srst) clears what ZooKeeper's ServerStats.reset clears:
    not the uptime and not the Prometheus summaries, which only ever grow."""

    started_ms: int
    received: int = 0
    sent: int = 0
    lat_min: int = 0
    lat_max: int = 0
    lat_total: int = 0
    lat_count: int = 0
    auth_failed: int = 0
    fsync_slow: int = 0  # fsyncs over FSYNC_WARN_MS (fsync_threshold_exceed_count)
    resp_last: int = 0
    resp_min: int = -1
    resp_max: int = -1
    read_latency: LatencySummary = field(default_factory=LatencySummary)
    update_latency: LatencySummary = field(default_factory=LatencySummary)

    def record_latency(self, ms: int, update: bool = False) -> None:
        if self.lat_count == 0 or ms < self.lat_min:
            self.lat_min = ms
        self.lat_max = max(self.lat_max, ms)
        self.lat_total += ms
        self.lat_count += 1
        (self.update_latency if update else self.read_latency).observe(ms)

    def record_response(self, size: int) -> None:
        self.resp_last = size
        self.resp_min = size if self.resp_min < 0 else min(self.resp_min, size)
        self.resp_max = max(self.resp_max, size)

    def avg(self) -> float:
        return round(self.lat_total / self.lat_count, 4) if self.lat_count else 0.0

    def reset(self) -> None:
        self.received = self.sent = self.lat_min = self.lat_max = 0
        self.lat_total = self.lat_count = 0
        self.fsync_slow = 0
        self.resp_last, self.resp_min, self.resp_max = 0, -1, -1


FSYNC_WARN_MS = 1000  # ZooKeeper's fsync.warningthresholdms


class ConnectionInfo(Protocol):
    def info(self, full: bool) -> dict[str, Any]: ...
    def reset_stats(self) -> None: ...


class Source(Protocol):
    """What the renderers read from the running server."""

    config: ServerConfig
    tree: DataTree
    watches: WatchManager
    stats: ServerStats

    @property
    def connections(self) -> Sequence[ConnectionInfo]: ...
    @property
    def outstanding(self) -> int: ...
    @property
    def mode(self) -> str: ...
    @property
    def session_count(self) -> int: ...
    @property
    def serving(self) -> bool: ...
    @property
    def quorum_metrics(self) -> list[tuple[str, Any]]: ...


def fd_counts() -> tuple[int, int]:
    try:
        opened = len(os.listdir("/proc/self/fd"))
    except OSError:
        opened = -1
    return opened, resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def monitor(src: Source, now: int) -> dict[str, Any]:
    """`mntr`'s rows (without the zk_ prefix): ZooKeeper's dumpMonitorValues plus the
    gauges its metrics provider holds, as far as coord has them."""
    st = src.stats
    opened, limit = fd_counts()
    return {
        "version": VERSION,
        "server_state": src.mode,
        "avg_latency": st.avg(),
        "max_latency": st.lat_max,
        "min_latency": st.lat_min,
        "packets_received": st.received,
        "packets_sent": st.sent,
        "num_alive_connections": len(src.connections),
        "outstanding_requests": src.outstanding,
        "uptime": now - st.started_ms,
        "znode_count": src.tree.node_count(),
        "watch_count": src.watches.count(),
        "ephemerals_count": src.tree.ephemeral_count(),
        "approximate_data_size": src.tree.approximate_data_size(),
        "global_sessions": src.session_count,
        "local_sessions": 0,
        "open_file_descriptor_count": opened,
        "max_file_descriptor_count": limit,
        "connection_drop_probability": 0,
        "auth_failed_count": st.auth_failed,
        "last_client_response_size": st.resp_last,
        "max_client_response_size": st.resp_max,
        "min_client_response_size": st.resp_min,
        "last_zxid": src.tree.last_zxid,
        **dict(src.quorum_metrics),
    }


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def dirs(src: Source) -> tuple[int, int]:
    """(snapshot dir bytes, txn log dir bytes), ZooKeeper's dataDir and dataLogDir."""
    data = src.config.data_dir.resolve()
    return dir_size(data / "snapshot"), dir_size(data / "log")


def server_stats(src: Source, now: int) -> dict[str, Any]:
    """ZooKeeper's ServerStats as `srvr`/`stat` show it."""
    st = src.stats
    data_size, log_size = dirs(src)
    return {
        "packets_sent": st.sent,
        "packets_received": st.received,
        "fsync_threshold_exceed_count": st.fsync_slow,
        "client_response_stats": client_response(src),
        "data_dir_size": data_size,
        "log_dir_size": log_size,
        "provider_null": False,
        "server_state": src.mode,
        "last_processed_zxid": src.tree.last_zxid,
        "outstanding_requests": src.outstanding,
        "avg_latency": st.avg(),
        "max_latency": st.lat_max,
        "min_latency": st.lat_min,
        "num_alive_client_connections": len(src.connections),
        "uptime": now - st.started_ms,
        "auth_failed_count": st.auth_failed,
        # coord has no TLS: no connection is an mTLS one, and ZooKeeper counts these
        # only when it demands client certificates.
        "non_mtlsremote_conn_count": 0,
        "non_mtlslocal_conn_count": 0,
    }


def client_response(src: Source) -> dict[str, int]:
    st = src.stats
    return {"last_buffer_size": st.resp_last, "min_buffer_size": st.resp_min, "max_buffer_size": st.resp_max}


def configuration(src: Source) -> list[tuple[str, str | None, Any]]:
    """(name in `conf`'s text, name in the AdminServer's JSON or None, value)."""
    c = src.config
    data = c.data_dir.resolve()
    data_size, log_size = dirs(src)
    return [
        ("clientPort", "client_port", c.client_port),
        ("secureClientPort", None, -1),
        ("dataDir", "data_dir", data / "snapshot"),
        ("dataDirSize", None, data_size),
        ("dataLogDir", "data_log_dir", data / "log"),
        ("dataLogSize", None, log_size),
        ("tickTime", "tick_time", c.tick_ms),
        ("maxClientCnxns", "max_client_cnxns", c.max_client_cnxns),
        ("minSessionTimeout", "min_session_timeout", c.min_session_timeout_ms),
        ("maxSessionTimeout", "max_session_timeout", c.max_session_timeout_ms),
        ("clientPortListenBacklog", "client_port_listen_backlog", -1),
        ("serverId", "server_id", c.server_id),
    ]


def last_snapshot(src: Source) -> tuple[str, int]:
    """(zxid in hex, write time in s) of the newest snapshot; ZooKeeper's -1s if none."""
    snaps = list_snapshots(src.config.data_dir / "snapshot")
    if not snaps:
        return f"{U64:x}", -1
    zxid, path = snaps[-1]
    try:
        return f"{zxid:x}", int(path.stat().st_mtime)
    except FileNotFoundError:  # just replaced by a newer one
        return f"{zxid:x}", -1


def watches_by_session(src: Source) -> dict[int, list[str]]:
    """Data-table watches: session id (unsigned) -> watched paths."""
    out: dict[int, list[str]] = {}
    for watcher, keys in src.watches.by_watcher.items():
        paths = sorted(p for child, p in keys if not child)
        if paths:
            out[getattr(watcher, "session_id", 0) & U64] = paths
    return out


def watches_by_path(src: Source) -> dict[str, list[int]]:
    """Data-table watches: path -> session ids (unsigned)."""
    return {
        path: [getattr(w, "session_id", 0) & U64 for w in watchers]
        for path, watchers in sorted(src.watches.data.items())
    }


def ephemerals(src: Source) -> dict[int, list[str]]:
    return {sid & U64: sorted(paths) for sid, paths in src.tree.ephemerals.items()}


def _memory_mb() -> tuple[int, int, int]:
    """(free, max, total) for ZooKeeper's os.memory.* rows, which show the JVM heap; a
    Python process has no heap limit, so: available RAM, all RAM, our peak resident size."""
    page = os.sysconf("SC_PAGE_SIZE")
    avail, phys = os.sysconf("SC_AVPHYS_PAGES") * page, os.sysconf("SC_PHYS_PAGES") * page
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return avail >> 20, phys >> 20, rss >> 20


def environment() -> list[tuple[str, str]]:
    """ZooKeeper's Environment.list(), with Python standing in for the JVM."""
    uname = platform.uname()
    free, most, total = _memory_mb()
    return [
        ("zookeeper.version", VERSION),
        ("host.name", socket.gethostname()),
        ("java.version", f"python {platform.python_version()}"),
        ("java.vendor", platform.python_implementation()),
        ("java.home", sys.prefix),
        ("java.class.path", os.pathsep.join(sys.path)),
        ("java.library.path", ""),
        ("java.io.tmpdir", os.environ.get("TMPDIR", "/tmp")),
        ("java.compiler", "<NA>"),
        ("os.name", uname.system),
        ("os.arch", uname.machine),
        ("os.version", uname.release),
        ("user.name", os.environ.get("USER", "")),
        ("user.home", os.path.expanduser("~")),
        ("user.dir", os.getcwd()),
        ("os.memory.free", f"{free}MB"),
        ("os.memory.max", f"{most}MB"),
        ("os.memory.total", f"{total}MB"),
    ]
