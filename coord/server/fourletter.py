"""Four-letter-word admin commands (`echo srvr | nc host 2181`), in ZooKeeper's formats.

Monitoring tools (zkServer.sh status, Prometheus exporters, Nagios checks) parse these
texts line by line, so the wording, the tabs and the hex formats follow ZooKeeper 3.8.
The facts come from `serverinfo`, which the AdminServer and the metrics read too.

This module only formats: it must never change server state (but for the counters `srst`
and `crst` reset) or touch a socket.
"""

from __future__ import annotations

from coord.server import serverinfo as info
from coord.server.serverinfo import VERSION, ConnectionInfo, ServerStats, Source

__all__ = ["VERSION", "ServerStats", "Source", "render", "word_of"]

WORDS = (
    "ruok",
    "stat",
    "srvr",
    "mntr",
    "cons",
    "wchs",
    "conf",
    "isro",
    "envi",
    "wchc",
    "wchp",
    "dump",
    "crst",
    "srst",
    "dirs",
    "gtmk",
    "stmk",
    "hash",
)
WORD_CODES = {int.from_bytes(w.encode(), "big", signed=True): w for w in WORDS}
IMPLEMENTED = (
    "ruok",
    "stat",
    "srvr",
    "mntr",
    "cons",
    "wchs",
    "conf",
    "isro",
    "envi",
    "srst",
    "crst",
    "wchc",
    "wchp",
    "dump",
    "dirs",
)


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
    if word == "crst":
        for conn in src.connections:
            conn.reset_stats()
        return "Connection stats reset.\n"
    return {
        "srvr": lambda: _srvr(src, now, False),
        "stat": lambda: _srvr(src, now, True),
        "mntr": lambda: _mntr(src, now),
        "cons": lambda: _cons(src),
        "wchs": lambda: _wchs(src),
        "conf": lambda: _conf(src),
        "wchc": lambda: _wchc(src),
        "wchp": lambda: _wchp(src),
        "dump": lambda: _dump(src),
        "dirs": lambda: _dirs(src),
        "envi": _envi,
    }[word]()


def cons_line(conn: ConnectionInfo, full: bool) -> str:
    """One connection as `cons` (full) and `stat` print it."""
    c = conn.info(full)
    base = (
        f" /{c['remote_socket_address']}[{c['interest_ops']:x}](queued="
        f"{c['outstanding_requests']},recved={c['packets_received']},sent={c['packets_sent']}"
    )
    if "session_id" not in c:
        return base + ")"
    return (
        f"{base},sid=0x{c['session_id']:x},lop={c['last_operation']},"
        f"est={c['established']},to={c['session_timeout']},lcxid=0x{c['last_cxid']:x},"
        f"lzxid=0x{c['last_zxid']:x},lresp={c['last_response_time']},"
        f"llat={c['last_latency']},minlat={c['min_latency']},avglat={c['avg_latency']},"
        f"maxlat={c['max_latency']})"
    )


def _srvr(src: Source, now: int, clients: bool) -> str:
    s = info.server_stats(src, now)
    lines = [f"Zookeeper version: {VERSION}"]
    if clients:
        lines.append("Clients:")
        lines.extend(cons_line(c, False) for c in src.connections)
        lines.append("")
    lines += [
        f"Latency min/avg/max: {s['min_latency']}/{s['avg_latency']}/{s['max_latency']}",
        f"Received: {s['packets_received']}",
        f"Sent: {s['packets_sent']}",
        f"Connections: {s['num_alive_client_connections']}",
        f"Outstanding: {s['outstanding_requests']}",
        f"Zxid: 0x{s['last_processed_zxid']:x}",
        f"Mode: {s['server_state']}",
        f"Node count: {src.tree.node_count()}",
    ]
    return "\n".join(lines) + "\n"


def _mntr(src: Source, now: int) -> str:
    return "".join(f"zk_{k}\t{v}\n" for k, v in info.monitor(src, now).items())


def _cons(src: Source) -> str:
    return "".join(cons_line(c, True) + "\n" for c in src.connections) + "\n"


def _wchs(src: Source) -> str:
    conns, paths, total = src.watches.summary()
    return f"{conns} connections watching {paths} paths\nTotal watches:{total}\n"


def _wchc(src: Source) -> str:
    """Data-table watches by session: `0x<sid>` then one tab-indented path per line."""
    return (
        "".join(
            f"0x{sid:x}\n" + "".join(f"\t{p}\n" for p in paths) for sid, paths in info.watches_by_session(src).items()
        )
        + "\n"
    )


def _wchp(src: Source) -> str:
    """Data-table watches by path: the path then one tab-indented `0x<sid>` per line."""
    return (
        "".join(
            f"{path}\n" + "".join(f"\t0x{sid:x}\n" for sid in sids) for path, sids in info.watches_by_path(src).items()
        )
        + "\n"
    )


def _dump(src: Source) -> str:
    tree = src.tree
    lines = ["SessionTracker dump:", f"Global Sessions({len(tree.sessions)}):"]
    lines += [f"0x{sid & info.U64:x}\t{timeout}ms" for sid, (timeout, _) in tree.sessions.items()]
    owners = info.ephemerals(src)
    lines += ["ephemeral nodes dump:", f"Sessions with Ephemerals ({len(owners)}):"]
    for sid, paths in owners.items():
        lines.append(f"0x{sid:x}:")
        lines += [f"\t{p}" for p in paths]
    lines += ["Connections dump:", f"Connections Sets ({len(src.connections)}):"]
    lines += [cons_line(c, False) for c in src.connections]
    return "\n".join(lines) + "\n"


def _dirs(src: Source) -> str:
    data, log = info.dirs(src)
    return f"datadir_size: {data}\nlogdir_size: {log}\n"


def _conf(src: Source) -> str:
    return "".join(f"{k}={v}\n" for k, _, v in info.configuration(src))


def _envi() -> str:
    return "Environment:\n" + "".join(f"{k}={v}\n" for k, v in info.environment())
