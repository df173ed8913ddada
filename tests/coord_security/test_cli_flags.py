"""`coord start`'s security flags: -D NAME=VALUE and --jaas-config, refused clearly when
they cannot work (exit 2, a message naming the setting, nothing started)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _start(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coord", "start", "--data-dir", str(tmp_path / "data"), "--client-port", "0", *flags],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "flags, message",
    [
        (("-D", "secureClientPort"), "-D takes NAME=VALUE"),
        (("-D", "ssl.keystore.location=x.pem"), "unknown security settings ['ssl.keystore.location']"),
        (("-D", "secureClientPort=2281"), "secureClientPort needs ssl.keyStore.location"),
        (("--jaas-config", "/nonexistent/jaas.conf"), "jaas_config /nonexistent/jaas.conf"),
    ],
)
def test_unusable_security_flags_stop_coord_start(tmp_path: Path, flags: tuple[str, ...], message: str) -> None:
    out = _start(tmp_path, *flags)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr


def test_a_broken_jaas_file_is_named(tmp_path: Path) -> None:
    jaas = tmp_path / "jaas.conf"
    jaas.write_text('Server { org.apache.zookeeper.server.auth.DigestLoginModule required\n  user_bob="x" }')
    out = _start(tmp_path, "--jaas-config", str(jaas))
    assert (
        out.returncode == 2
        and f"jaas_config {jaas}: section Server: a login module's options must end with ';'" in out.stderr
    ), out.stderr
