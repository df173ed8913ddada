"""ZooKeeper's AdminServer commands (`GET /commands/<name>` on `admin.serverPort`).

Each command answers a JSON object shaped as ZooKeeper 3.8's: its primary name under
"command", null or a message under "error", then the command's own keys, the same names
ZooKeeper uses, so checks written against `/commands/mntr` or `/commands/ruok` work
unchanged. Every alias ZooKeeper accepts (`mntr` for `monitor`, `stat` for `stats`, ...)
answers too. Commands coord cannot answer honestly (trace masks, digests, system
properties, the initial zoo.cfg) are left out: they answer "Unknown command", as an
unknown name does in ZooKeeper.

The facts come from `serverinfo`, the same functions the four-letter words print.
This module must never touch a socket; it changes nothing but the counters the two
`*_stat_reset` commands reset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coord.server import serverinfo as info
from coord.server.serverinfo import VERSION, Source

Body = dict[str, Any]
NOT_SERVING = "This ZooKeeper instance is not currently serving requests"


@dataclass(frozen=True)
class Command:
    names: tuple[str, ...]  # primary name first, then aliases
    run: Callable[[Source, int], Body]
    needs_server: bool = True  # ZooKeeper's CommandBase.serverRequired


def _reset_connections(src: Source, _now: int) -> Body:
    for conn in src.connections:
        conn.reset_stats()
    return {}


def _reset_stats(src: Source, _now: int) -> Body:
    src.stats.reset()
    return {}


def _srvr(src: Source, now: int) -> Body:
    return {
        "version": VERSION,
        "read_only": False,
        "server_stats": info.server_stats(src, now),
        "client_response": info.client_response(src),
        "node_count": src.tree.node_count(),
    }


def _stats(src: Source, now: int) -> Body:
    return {**_srvr(src, now), "connections": [c.info(False) for c in src.connections], "secure_connections": []}


def _leader(src: Source, _now: int) -> Body:
    known = src.leader_info() if hasattr(src, "leader_info") else None
    if known is None:
        return {"error": "server is not initialized"}
    is_leader, leader_id, address = known
    return {"is_leader": is_leader, "leader_id": leader_id, "leader_ip": address}


def _voting_view(src: Source, _now: int) -> Body:
    config = src.config
    view = {
        str(sid): {
            "server_addresses": [f"{host}:{qport}"],
            "election_addresses": [f"{host}:{eport}"],
            "client_address": f"{config.host}:{config.client_port}" if sid == config.server_id else "",
            "learner_type": "participant",
        }
        for sid, (host, qport, eport) in config.ensemble.items()
    }
    return {"current_config": view}


def _last_snapshot(src: Source, _now: int) -> Body:
    zxid, timestamp = info.last_snapshot(src)
    return {"zxid": zxid, "timestamp": timestamp}


def _dirs(src: Source, _now: int) -> Body:
    data, log = info.dirs(src)
    return {"datadir_size": data, "logdir_size": log}


def _dump(src: Source, _now: int) -> Body:
    """Sessions by the time they expire (rounded up to the tick, as ZooKeeper buckets
    them) and ephemeral paths by owner."""
    tracker = getattr(src, "tracker", None)
    buckets = {} if tracker is None else tracker.buckets
    by_expiry = {str(t): sorted(sid & info.U64 for sid in sids) for t, sids in sorted(buckets.items())}
    return {
        "expiry_time_to_session_ids": by_expiry,
        "session_id_to_ephemeral_paths": {str(k): v for k, v in info.ephemerals(src).items()},
    }


def _watch_summary(src: Source, _now: int) -> Body:
    conns, paths, total = src.watches.summary()
    return {"num_connections": conns, "num_paths": paths, "num_total_watches": total}


COMMANDS: tuple[Command, ...] = (
    Command(
        ("configuration", "conf", "config"),
        lambda s, _n: {
            json: v if isinstance(v, int) else str(v) for _, json, v in info.configuration(s) if json is not None
        },
    ),
    Command(("connection_stat_reset", "crst"), _reset_connections),
    Command(
        ("connections", "cons"),
        lambda s, _n: {"connections": [c.info(True) for c in s.connections], "secure_connections": []},
    ),
    Command(("dirs",), _dirs),
    Command(("dump",), _dump),
    Command(("environment", "env", "envi"), lambda _s, _n: dict(info.environment()), False),
    Command(("is_read_only", "isro"), lambda _s, _n: {"read_only": False}),
    Command(("last_snapshot", "lsnp"), _last_snapshot),
    Command(("leader", "lead"), _leader),
    Command(("monitor", "mntr"), lambda s, n: info.monitor(s, n), False),
    Command(("observers", "obsr"), lambda _s, _n: {"synced_observers": 0, "observers": []}),
    Command(("ruok",), lambda _s, _n: {}),
    Command(("server_stats", "srvr"), _srvr),
    Command(("stats", "stat"), _stats),
    Command(("stat_reset", "srst"), _reset_stats),
    Command(("voting_view",), _voting_view),
    Command(
        ("watches", "wchc"),
        lambda s, _n: {"session_id_to_watched_paths": {str(k): v for k, v in info.watches_by_session(s).items()}},
    ),
    Command(("watches_by_path", "wchp"), lambda s, _n: {"path_to_session_ids": info.watches_by_path(s)}),
    Command(("watch_summary", "wchs"), _watch_summary),
)
BY_NAME: dict[str, Command] = {name: cmd for cmd in COMMANDS for name in cmd.names}
PRIMARY_NAMES = sorted(cmd.names[0] for cmd in COMMANDS)


def run_command(name: str, src: Source, now: int) -> Body:
    """The JSON object ZooKeeper's AdminServer answers `GET /commands/<name>` with."""
    cmd = BY_NAME.get(name)
    if cmd is None:
        return {"command": name, "error": f"Unknown command: {name}"}
    if cmd.needs_server and not src.serving:
        return {"command": name, "error": NOT_SERVING}
    body = cmd.run(src, now)
    return {"command": cmd.names[0], "error": body.pop("error", None), **body}


def command_links(base: str = "/commands") -> str:
    """What `GET /commands` shows: a link to every command by its primary name."""
    return "".join(f'<a href="{base}/{name}">{name}</a>\n<br/>\n' for name in PRIMARY_NAMES)
