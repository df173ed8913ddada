"""Apache's own zkCli.sh (the Java client) against our server. It needs a JVM start per
call, so this is one create/get/ls/stat/delete script run in a single zkCli session
plus one call that reads the result."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ZKCLI = Path("/usr/share/zookeeper/bin/zkCli.sh")

pytestmark = [
    pytest.mark.zookeeper,
    pytest.mark.skipif(
        not ZKCLI.exists() or shutil.which("java") is None, reason="zkCli.sh needs Debian's zookeeper package and java"
    ),
]


def _zkcli(hosts: str, *commands: str) -> str:
    script = "\n".join([*commands, "quit"]) + "\n"
    out = subprocess.run([str(ZKCLI), "-server", hosts], input=script, capture_output=True, text=True, timeout=90)
    return out.stdout + out.stderr


def test_zkcli_create_get_ls_stat_delete(shared_coord) -> None:
    out = _zkcli(
        shared_coord.hosts,
        "create /cli hello",
        "create -e /cli/eph",
        "create -s /cli/seq- x",
        "get /cli",
        "ls /cli",
        "stat /cli",
        "set /cli world",
        "delete /cli/seq-0000000001",
        "create /cli2",
    )
    assert "Created /cli" in out
    assert "Created /cli/seq-0000000001" in out
    assert "hello" in out
    assert "[eph, seq-0000000001]" in out
    assert "numChildren = 2" in out and "dataLength = 5" in out
    out = _zkcli(shared_coord.hosts, "get /cli", "ls /", "get /cli2", "stat /nope")
    assert "world" in out
    assert "cli2" in out and "zookeeper" in out
    assert "null" in out  # created without data: the null buffer survives
    assert "Node does not exist: /nope" in out


def test_zkcli_setquota_then_listquota_shows_the_subtree(shared_coord) -> None:
    out = _zkcli(
        shared_coord.hosts,
        "create /cliq",
        "create /cliq/a",
        "setquota -n 5 /cliq",
        "listquota /cliq",
        "create /cliq/b 12345",
        "listquota /cliq",
        "deleteall /cliq",
        "delquota /cliq",
    )
    assert "Output stat for /cliq count=2,bytes=0" in out, out
    assert "Output stat for /cliq count=3,bytes=5" in out, out
