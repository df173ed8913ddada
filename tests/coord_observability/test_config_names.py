"""The HTTP ports in the configuration: our keys, zoo.cfg's names for them, and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from coord.server.config import ConfigError, ServerConfig


def test_off_by_default() -> None:
    cfg = ServerConfig()
    assert (cfg.metrics_port, cfg.admin_port) == (None, None)


def test_zookeeper_names_quoted_or_as_tables(tmp_path: Path) -> None:
    path = tmp_path / "coord.toml"
    path.write_text(
        '[coord]\n"metricsProvider.httpPort" = 7000\n"admin.serverPort" = 8080\nclientPort = 2182\ntickTime = 500\n'
    )
    cfg = ServerConfig.from_toml(path)
    assert (cfg.metrics_port, cfg.admin_port, cfg.client_port, cfg.tick_ms) == (7000, 8080, 2182, 500)
    path.write_text(
        '[coord]\nmetrics_port = 7001\n[coord.metricsProvider]\nhttpHost = "0.0.0.0"\n'
        '[coord.admin]\nserverPort = 8081\nserverAddress = "127.0.0.2"\n'
    )
    cfg = ServerConfig.from_toml(path, metrics_port=7002)
    assert (cfg.metrics_port, cfg.metrics_host, cfg.admin_port, cfg.admin_host) == (7002, "0.0.0.0", 8081, "127.0.0.2")


def test_refusals(tmp_path: Path) -> None:
    path = tmp_path / "coord.toml"
    path.write_text('metrics_port = 7000\n"metricsProvider.httpPort" = 7001\n')
    with pytest.raises(ConfigError, match="both set"):
        ServerConfig.from_toml(path)
    path.write_text("[admin]\nenableServer = false\n")
    with pytest.raises(ConfigError, match=r"admin\.enableServer"):
        ServerConfig.from_toml(path)
    with pytest.raises(ConfigError, match="65535"):
        ServerConfig(admin_port=70000)
