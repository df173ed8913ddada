"""Configuration of one coord server, with ZooKeeper's defaults where ZooKeeper has one.

Values come from command-line flags or a TOML file (same names, `snake_case`, or
zoo.cfg's names for the keys ZooKeeper has: `ZOOKEEPER_NAMES`); this module only holds
and checks them. It must never open sockets or create directories.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from coord.security.settings import SecurityConfigError, parse_settings

# zoo.cfg's names for our keys, accepted in a TOML file beside ours: quoted
# ("metricsProvider.httpPort" = 7000) or as tables ([coord.metricsProvider] httpPort = 7000).
ZOOKEEPER_NAMES = {
    "clientPort": "client_port",
    "clientPortAddress": "host",
    "dataDir": "data_dir",
    "tickTime": "tick_ms",
    "minSessionTimeout": "min_session_timeout_ms",
    "maxSessionTimeout": "max_session_timeout_ms",
    "jute.maxbuffer": "max_buffer",
    "snapCount": "snap_count",
    "initLimit": "init_limit",
    "syncLimit": "sync_limit",
    "extendedTypesEnabled": "extended_types",
    "4lw.commands.whitelist": "four_letter_whitelist",
    "metricsProvider.httpPort": "metrics_port",
    "metricsProvider.httpHost": "metrics_host",
    "admin.serverPort": "admin_port",
    "admin.serverAddress": "admin_host",
    "maxClientCnxns": "max_client_cnxns",
    "globalOutstandingLimit": "global_outstanding_limit",
    "zookeeper.nio.sessionlessCnxnTimeout": "sessionless_cnxn_timeout_ms",
}


def _our_names(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with ZooKeeper's names (dotted or as nested tables) turned into ours; the
    `security` table keeps ZooKeeper's own names (coord.security.settings reads them)."""
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, dict) and key not in ("peers", "security"):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    out: dict[str, Any] = {}
    for key, value in flat.items():
        ours = ZOOKEEPER_NAMES.get(key, key)
        if ours in out:
            raise ConfigError(f"{key} and {ours} both set")
        out[ours] = value
    return out


class ConfigError(ValueError):
    """A configuration value that cannot work; the message says which and why."""


@dataclass
class ServerConfig:
    server_id: int = 1
    data_dir: Path = Path("coord-data")
    host: str = "127.0.0.1"
    client_port: int = 2181
    tick_ms: int = 2000
    # 0 = ZooKeeper's default of 2 x / 20 x tickTime
    min_session_timeout_ms: int = 0
    max_session_timeout_ms: int = 0
    max_buffer: int = 0xFFFFF  # jute.maxbuffer: the largest frame accepted
    max_data_bytes: int = 1 << 20  # largest znode data
    snap_count: int = 10000  # txns between snapshots
    container_check_ms: int = 60000  # container / TTL cleanup period
    extended_types: bool = True  # TTL nodes (ZooKeeper: off by default)
    four_letter_whitelist: str = "srvr"  # 4lw.commands.whitelist: "*" or words (srvr always)
    max_client_cnxns: int = 60  # maxClientCnxns: connections per client address, 0 = any
    global_outstanding_limit: int = 1000  # globalOutstandingLimit: unanswered requests, all clients
    sessionless_cnxn_timeout_ms: int = 10000  # zookeeper.nio.sessionlessCnxnTimeout: until ConnectRequest
    # The ensemble: "1=host:quorumPort:electionPort,2=..." (ZooKeeper's server.N lines)
    # or a TOML table {"1" = "host:quorumPort:electionPort", ...}; empty = standalone.
    peers: str | dict[str, str] | list[str] = field(default_factory=list)
    init_limit: int = 10  # ticks to join a leader (a joining follower: ticks of silence)
    sync_limit: int = 5  # ticks of silence before giving up on a peer
    # HTTP ports, each off (None) unless set; 0 = any free port. Hosts default to `host`.
    metrics_port: int | None = None  # metricsProvider.httpPort: GET /metrics
    metrics_host: str | None = None  # metricsProvider.httpHost
    admin_port: int | None = None  # admin.serverPort: GET /commands/<name>
    admin_host: str | None = None  # admin.serverAddress
    # TLS and SASL by ZooKeeper's names (secureClientPort, ssl.keyStore.location, sslQuorum,
    # ...; see coord.security.settings) and the JAAS file with the SASL users.
    security: dict[str, Any] = field(default_factory=dict)
    jaas_config: Path | None = None

    @property
    def ensemble(self) -> dict[int, tuple[str, int, int]]:
        """server id -> (host, quorum port, election port); empty when standalone."""
        if isinstance(self.peers, dict):
            items = [f"{k}={v}" for k, v in self.peers.items()]
        elif isinstance(self.peers, str):
            items = [p for p in self.peers.split(",") if p.strip()]
        else:
            items = list(self.peers)
        out: dict[int, tuple[str, int, int]] = {}
        for item in items:
            sid, sep, addr = item.strip().partition("=")
            parts = addr.split(":")
            try:
                if not sep or len(parts) != 3:
                    raise ValueError
                out[int(sid)] = (parts[0], int(parts[1]), int(parts[2]))
            except ValueError:
                raise ConfigError(f"peer {item!r} is not N=host:quorumPort:electionPort") from None
        return out

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not 0 <= self.server_id <= 254:
            raise ConfigError(f"server id {self.server_id} must be in 0..254")
        if self.tick_ms <= 0:
            raise ConfigError("tick_ms must be positive")
        if not self.min_session_timeout_ms:
            self.min_session_timeout_ms = 2 * self.tick_ms
        if not self.max_session_timeout_ms:
            self.max_session_timeout_ms = 20 * self.tick_ms
        if self.min_session_timeout_ms > self.max_session_timeout_ms:
            raise ConfigError("min_session_timeout_ms is above max_session_timeout_ms")
        if self.snap_count < 1:
            raise ConfigError("snap_count must be at least 1")
        if self.max_client_cnxns < 0 or self.global_outstanding_limit < 1:
            raise ConfigError("max_client_cnxns must be 0 (no limit) or more, global_outstanding_limit 1 or more")
        if self.sessionless_cnxn_timeout_ms <= 0:
            raise ConfigError("sessionless_cnxn_timeout_ms must be positive")
        if self.init_limit < 1 or self.sync_limit < 1:
            raise ConfigError("init_limit and sync_limit must be at least 1 tick")
        for name in ("client_port", "metrics_port", "admin_port"):
            port = getattr(self, name)
            if port is not None and not 0 <= port <= 65535:
                raise ConfigError(f"{name} {port} is not a port number (0..65535)")
        members = self.ensemble
        self._check_security()
        if members and self.server_id not in members:
            raise ConfigError(f"server id {self.server_id} is not among the peers {sorted(members)}")

    def _check_security(self) -> None:
        try:
            self.security_settings = parse_settings(self.security, self.jaas_config)
        except SecurityConfigError as e:
            raise ConfigError(str(e)) from None

    @classmethod
    def from_toml(cls, path: Path, **overrides: Any) -> ServerConfig:
        """Values from a TOML file (top level or a [coord] table), then `overrides`."""
        with open(path, "rb") as f:
            doc = tomllib.load(f)
        doc = _our_names(doc.get("coord", doc))
        known = {f.name for f in fields(cls)}
        unknown = set(doc) - known
        if unknown:
            raise ConfigError(f"{path}: unknown keys {sorted(unknown)}")
        given = {k: v for k, v in overrides.items() if v is not None}
        if "security" in given:  # -D NAME=VALUE flags add to (and win over) the file's table
            given["security"] = {**doc.get("security", {}), **given["security"]}
        return cls(**{**doc, **given})

    def four_letter_enabled(self, word: str) -> bool:
        """ZooKeeper 3.8's rule: the whitelist's words, every word for "*", and always
        `srvr` (zkServer.sh status and our own tools depend on it)."""
        allowed = {w.strip() for w in self.four_letter_whitelist.split(",")}
        return word == "srvr" or "*" in allowed or word in allowed
