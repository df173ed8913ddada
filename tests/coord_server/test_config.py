"""Server configuration: defaults from tickTime, TOML files, refusals, 4lw whitelist."""

from __future__ import annotations

from pathlib import Path

import pytest

from coord.server.config import ConfigError, ServerConfig
from coord.server.datatree import DataTree
from coord.server.fourletter import ServerStats, render
from coord.server.watches import WatchManager


def test_session_timeout_bounds_follow_tick() -> None:
    cfg = ServerConfig(tick_ms=500)
    assert (cfg.min_session_timeout_ms, cfg.max_session_timeout_ms) == (1000, 10000)
    with pytest.raises(ConfigError, match=r"0\.\.254"):
        ServerConfig(server_id=255)
    with pytest.raises(ConfigError, match="min_session_timeout_ms"):
        ServerConfig(min_session_timeout_ms=9000, max_session_timeout_ms=5000)


def test_toml_file_with_overrides(tmp_path: Path) -> None:
    path = tmp_path / "coord.toml"
    path.write_text('[coord]\nclient_port = 3000\ntick_ms = 100\nfour_letter_whitelist = "srvr"\n')
    cfg = ServerConfig.from_toml(path, client_port=4000, tick_ms=None)
    assert (cfg.client_port, cfg.tick_ms) == (4000, 100)
    path.write_text("bogus = 1\n")
    with pytest.raises(ConfigError, match="bogus"):
        ServerConfig.from_toml(path)


class _Src:
    def __init__(self, cfg: ServerConfig) -> None:
        self.config, self.tree, self.watches = cfg, DataTree(), WatchManager()
        self.stats, self.connections = ServerStats(0), []
        self.outstanding, self.mode, self.session_count = 0, "standalone", 0
        self.serving, self.quorum_metrics = True, []


def test_whitelist_and_formats() -> None:
    src = _Src(ServerConfig(four_letter_whitelist="srvr, ruok"))
    assert render("mntr", src, 10) == "mntr is not executed because it is not in the whitelist.\n"
    assert render("ruok", src, 10) == "imok"
    src.stats.record_latency(3)
    src.stats.record_latency(4)
    lines = render("srvr", src, 10).splitlines()
    assert lines[1] == "Latency min/avg/max: 3/3.5/4"
    assert lines[-2:] == ["Mode: standalone", "Node count: 5"]
    src.serving = False  # an ensemble member without a quorum, as ZooKeeper answers
    assert render("srvr", src, 10) == "This ZooKeeper instance is not currently serving requests\n"
    assert render("ruok", src, 10) == "imok"


def test_ensemble_peers_from_a_toml_table_or_the_flag_string(tmp_path: Path) -> None:
    path = tmp_path / "coord.toml"
    path.write_text(
        '[coord]\nserver_id = 2\n[coord.peers]\n"1" = "127.0.0.1:2888:3888"\n'
        '"2" = "127.0.0.1:2889:3889"\n"3" = "127.0.0.1:2890:3890"\n'
    )
    cfg = ServerConfig.from_toml(path)
    flag = ServerConfig(server_id=2, peers="1=127.0.0.1:2888:3888,2=127.0.0.1:2889:3889,3=127.0.0.1:2890:3890")
    assert (
        cfg.ensemble
        == flag.ensemble
        == {1: ("127.0.0.1", 2888, 3888), 2: ("127.0.0.1", 2889, 3889), 3: ("127.0.0.1", 2890, 3890)}
    )
    with pytest.raises(ConfigError, match="N=host:quorumPort:electionPort"):
        ServerConfig(peers="1=127.0.0.1:2888")
