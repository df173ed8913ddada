"""Four-letter-word admin commands (`echo srvr | nc host 2181`), in ZooKeeper's formats.

Monitoring tools (zkServer.sh status, Prometheus exporters, Nagios checks) parse these
texts line by line, so the wording, the tabs and the hex formats follow ZooKeeper 3.8.
`ServerStats` holds the counters they print (packets, latencies), updated by the shell.

This module only formats: it must never change server state or touch a socket.
"""

from __future__ import annotations

import os
import platform
import resource
import socket
import sys
from dataclasses import dataclass
from typing import Protocol

from coord.server.config import ServerConfig
from coord.server.datatree import DataTree
from coord.server.watches import WatchManager

VERSION = "3.8.0-pybroker, built on 2026-01-01 00:00 UTC"
WORDS = ("ruok", "stat", "srvr", "mntr", "cons", "wchs", "conf", "isro", "envi",
         "wchc", "wchp", "dump", "crst", "srst", "dirs", "gtmk", "stmk", "hash")
WORD_CODES = {int.from_bytes(w.encode(), "big", signed=True): w for w in WORDS}
IMPLEMENTED = ("ruok", "stat", "srvr", "mntr", "cons", "wchs", "conf", "isro", "envi",
               "srst", "wchc", "wchp", "dump")


@dataclass
class ServerStats:
    """Counters the admin words print; reset by `srst` (not the uptime)."""
    started_ms: int
    received: int = 0
    sent: int = 0
    lat_min: int = 0
    lat_max: int = 0
    lat_total: int = 0
    lat_count: int = 0

    def record_latency(self, ms: int) -> None:
        if self.lat_count == 0 or ms < self.lat_min:
            self.lat_min = ms
        self.lat_max = max(self.lat_max, ms)
        self.lat_total += ms
        self.lat_count += 1

    def avg(self) -> float:
        return round(self.lat_total / self.lat_count, 4) if self.lat_count else 0.0

    def reset(self) -> None:
        self.received = self.sent = self.lat_min = self.lat_max = 0
        self.lat_total = self.lat_count = 0


class ConnectionInfo(Protocol):
    def cons_line(self, full: bool, now: int) -> str: ...


class Source(Protocol):
    """What the formatter reads from the running server."""
    config: ServerConfig
    tree: DataTree
    watches: WatchManager
    stats: ServerStats
    connections: list[ConnectionInfo]
    outstanding: int
    mode: str
    session_count: int
    serving: bool
    quorum_metrics: list[tuple[str, object]]


# What ZooKeeper refuses to report while the server has no quorum (it has no state
# worth reporting then).
NEED_SERVING = frozenset({"srvr", "stat", "mntr", "cons", "wchs", "wchc", "wchp", "dump"})


def word_of(length_field: int) -> str | None:
    """The 4lw a connection's first 4 bytes spell, or None for an ordinary frame."""
    return WORD_CODES.get(length_field)


def render(word: str, src: Source, now: int) -> str:
    if not src.config.four_letter_enabled(word):
        return f"{word} is not executed because it is not in the whitelist.\n"
    if word not in IMPLEMENTED:
        return f"{word} is not implemented by this server.\n"
    if word == "ruok":
        return "imok"
    if not src.serving and word in NEED_SERVING:
        return "This ZooKeeper instance is not currently serving requests\n"
    if word == "isro":
        return "rw"
    if word == "srst":
        src.stats.reset()
        return "Server stats reset.\n"
    return {"srvr": lambda: _srvr(src, now, False), "stat": lambda: _srvr(src, now, True),
            "mntr": lambda: _mntr(src, now), "cons": lambda: _cons(src, now),
            "wchs": lambda: _wchs(src), "conf": lambda: _conf(src),
            "wchc": lambda: _wchc(src), "wchp": lambda: _wchp(src),
            "dump": lambda: _dump(src), "envi": _envi}[word]()


def _srvr(src: Source, now: int, clients: bool) -> str:
    st = src.stats
    lines = [f"Zookeeper version: {VERSION}"]
    if clients:
        lines.append("Clients:")
        lines.extend(c.cons_line(False, now) for c in src.connections)
        lines.append("")
    lines += [f"Latency min/avg/max: {st.lat_min}/{st.avg()}/{st.lat_max}",
              f"Received: {st.received}", f"Sent: {st.sent}",
              f"Connections: {len(src.connections)}", f"Outstanding: {src.outstanding}",
              f"Zxid: 0x{src.tree.last_zxid:x}", f"Mode: {src.mode}",
              f"Node count: {src.tree.node_count()}"]
    return "\n".join(lines) + "\n"


def _fd_counts() -> tuple[int, int]:
    try:
        opened = len(os.listdir("/proc/self/fd"))
    except OSError:
        opened = -1
    return opened, resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _mntr(src: Source, now: int) -> str:
    st = src.stats
    opened, limit = _fd_counts()
    conns, paths, total = src.watches.summary()
    metrics = [
        ("version", VERSION), ("server_state", src.mode), ("avg_latency", st.avg()),
        ("max_latency", st.lat_max), ("min_latency", st.lat_min),
        ("packets_received", st.received), ("packets_sent", st.sent),
        ("num_alive_connections", len(src.connections)),
        ("outstanding_requests", src.outstanding), ("uptime", now - st.started_ms),
        ("znode_count", src.tree.node_count()), ("watch_count", total),
        ("ephemerals_count", src.tree.ephemeral_count()),
        ("approximate_data_size", src.tree.approximate_data_size()),
        ("global_sessions", src.session_count), ("local_sessions", 0),
        ("open_file_descriptor_count", opened), ("max_file_descriptor_count", limit),
        ("connection_drop_probability", 0), ("auth_failed_count", 0),
        ("last_zxid", src.tree.last_zxid),
        *src.quorum_metrics,
    ]
    return "".join(f"zk_{k}\t{v}\n" for k, v in metrics)


def _cons(src: Source, now: int) -> str:
    return "".join(c.cons_line(True, now) + "\n" for c in src.connections) + "\n"


def _wchs(src: Source) -> str:
    conns, paths, total = src.watches.summary()
    return f"{conns} connections watching {paths} paths\nTotal watches:{total}\n"


def _sid(watcher: object) -> str:
    return f"0x{getattr(watcher, 'session_id', 0) & (2**64 - 1):x}"


def _wchc(src: Source) -> str:
    """Data-table watches by session: `0x<sid>` then one tab-indented path per line."""
    out = []
    for watcher, keys in src.watches.by_watcher.items():
        paths = sorted(p for child, p in keys if not child)
        if paths:
            out.append(_sid(watcher) + "\n" + "".join(f"\t{p}\n" for p in paths))
    return "".join(out) + "\n"


def _wchp(src: Source) -> str:
    """Data-table watches by path: the path then one tab-indented `0x<sid>` per line."""
    return "".join(f"{path}\n" + "".join(f"\t{_sid(w)}\n" for w in watchers)
                   for path, watchers in sorted(src.watches.data.items())) + "\n"


def _dump(src: Source) -> str:
    tree = src.tree
    lines = ["SessionTracker dump:", f"Global Sessions({len(tree.sessions)}):"]
    lines += [f"0x{sid & (2**64 - 1):x}\t{timeout}ms" for sid, (timeout, _) in tree.sessions.items()]
    lines += ["ephemeral nodes dump:", f"Sessions with Ephemerals ({len(tree.ephemerals)}):"]
    for sid, paths in tree.ephemerals.items():
        lines.append(f"0x{sid & (2**64 - 1):x}:")
        lines += [f"\t{p}" for p in sorted(paths)]
    lines += ["Connections dump:", f"Connections Sets ({len(src.connections)}):"]
    lines += [c.cons_line(False, 0) for c in src.connections]
    return "\n".join(lines) + "\n"


def _conf(src: Source) -> str:
    c = src.config
    data_dir = c.data_dir.resolve()
    size = sum(p.stat().st_size for p in data_dir.rglob("*") if p.is_file()) \
        if data_dir.exists() else 0
    rows = [("clientPort", c.client_port), ("secureClientPort", -1),
            ("dataDir", data_dir / "snapshot"), ("dataDirSize", size),
            ("dataLogDir", data_dir / "log"), ("dataLogSize", size),
            ("tickTime", c.tick_ms), ("maxClientCnxns", c.max_client_cnxns),
            ("minSessionTimeout", c.min_session_timeout_ms),
            ("maxSessionTimeout", c.max_session_timeout_ms),
            ("clientPortListenBacklog", -1), ("serverId", c.server_id)]
    return "".join(f"{k}={v}\n" for k, v in rows)


def _envi() -> str:
    uname = platform.uname()
    rows = [("zookeeper.version", VERSION), ("host.name", socket.gethostname()),
            ("java.version", f"python {platform.python_version()}"),
            ("java.vendor", platform.python_implementation()),
            ("java.home", sys.prefix), ("java.class.path", os.pathsep.join(sys.path)),
            ("java.library.path", ""), ("java.io.tmpdir", os.environ.get("TMPDIR", "/tmp")),
            ("java.compiler", "<NA>"), ("os.name", uname.system), ("os.arch", uname.machine),
            ("os.version", uname.release), ("user.name", os.environ.get("USER", "")),
            ("user.home", os.path.expanduser("~")), ("user.dir", os.getcwd())]
    return "Environment:\n" + "".join(f"{k}={v}\n" for k, v in rows)
