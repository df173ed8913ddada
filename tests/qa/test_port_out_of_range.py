"""A port number outside 0..65535, on a flag or in a TOML file, is refused with a one-line
error naming the setting, before anything starts. QA found `pybroker start --broker-port
99999` (and every other port flag, and `clientPort = 99999` or `port = 99999` in a TOML
file) ending in an OverflowError traceback from bind()."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _pybroker(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "broker", *args], capture_output=True, text=True, timeout=60, cwd=cwd)


@pytest.mark.parametrize(
    "args, flag",
    [
        (("start", "--broker-port", "99999"), "--broker-port"),
        (("start", "--coord-port", "-5"), "--coord-port"),
        (("start", "--metrics-port", "65536"), "--metrics-port"),
        (("broker", "start", "--port", "70000"), "--port"),
        (("coord", "start", "--client-port", "65536"), "--client-port"),
        (("coord", "start", "--admin-port", "x"), "--admin-port"),
    ],
)
def test_a_port_flag_out_of_range_is_a_usage_error(tmp_path: Path, args: tuple[str, ...], flag: str) -> None:
    out = _pybroker(*args, "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert f"argument {flag}:" in out.stderr and "is not a port number" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_coord_client_port_out_of_range_in_toml_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "coord.toml"
    config.write_text("clientPort = 99999\n")
    out = _pybroker("coord", "start", "--config", str(config), "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert out.returncode != 0
    assert "client_port 99999 is not a port number" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("command", [("start",), ("broker", "start", "--coord", "127.0.0.1:1")])
def test_broker_port_out_of_range_in_toml_is_refused(tmp_path: Path, command: tuple[str, ...]) -> None:
    config = tmp_path / "broker.toml"
    config.write_text("port = 99999\n")
    out = _pybroker(*command, "--config", str(config), "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert out.returncode != 0
    assert "port 99999 in" in out.stderr and "is not a port number" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
