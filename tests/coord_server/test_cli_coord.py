"""`pybroker coord ls|get|stat|create|set|delete` against our running server, and
`pybroker coord start` refusing what it cannot do; `python -m coord` is the same command line."""

from __future__ import annotations

import argparse
import subprocess
import sys

from broker.cli.main import build_parser as pybroker_parser
from coord.cli import build_parser as coord_parser


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "broker", "coord", *args], capture_output=True, text=True, timeout=60)


def test_small_zkcli(shared_coord) -> None:
    server = ("--server", shared_coord.hosts)
    out = _cli("create", "/cli-cmd", "hello", *server)
    assert out.returncode == 0 and "Created /cli-cmd" in out.stdout, out.stderr
    assert _cli("create", "/cli-cmd/s-", "-s", *server).stdout.strip() == "Created /cli-cmd/s-0000000000"
    assert _cli("get", "/cli-cmd", *server).stdout.strip() == "hello"
    assert _cli("set", "/cli-cmd", "bye", *server).returncode == 0
    assert _cli("ls", "/cli-cmd", *server).stdout.strip() == "[s-0000000000]"
    stat = dict(line.split(" = ") for line in _cli("stat", "/cli-cmd", *server).stdout.splitlines())
    assert stat["version"] == "1" and stat["numChildren"] == "1" and stat["dataLength"] == "3"
    missing = _cli("get", "/nope", *server)
    assert missing.returncode == 1 and "NONODE" in missing.stderr.upper()
    assert _cli("delete", "/cli-cmd", "-r", *server).returncode == 0
    assert "cli-cmd" not in _cli("ls", "/", *server).stdout


def test_start_names_a_malformed_peer_list(tmp_path) -> None:
    out = _cli("start", "--data-dir", str(tmp_path), "--client-port", "1", "--peers", "a:1")
    assert out.returncode == 2 and "'a:1' is not N=host:quorumPort:electionPort" in out.stderr
    out = _cli(
        "start",
        "--id",
        "4",
        "--data-dir",
        str(tmp_path),
        "--client-port",
        "1",
        "--peers",
        "1=127.0.0.1:1:2,2=127.0.0.1:3:4,3=127.0.0.1:5:6",
    )
    assert out.returncode == 2 and "server id 4 is not among the peers [1, 2, 3]" in out.stderr


def test_shell_runs_commands_from_stdin(shared_coord) -> None:
    script = (
        "create /shell-a one\nls /shell-a\nget /shell-a\nget /shell-missing\nset /shell-a two\n"
        "stat /shell-a\ndelete /shell-a\nquit\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "broker", "coord", "shell", "--server", shared_coord.hosts],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "Created /shell-a" in out.stdout and "one" in out.stdout and "version = 1" in out.stdout
    assert "get /shell-missing" in out.stderr


def _shell(hosts: str, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "broker", "coord", "shell", "--server", hosts],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_messages_speak_cli_and_a_failed_last_shell_command_fails_the_script(shared_coord) -> None:
    missing = _cli("ls", "/cli-nonexist", "--server", shared_coord.hosts)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "ls /cli-nonexist: Node does not exist: /cli-nonexist (NONODE)"
    orphan = _cli("create", "/cli-nonexist/kid", "--server", shared_coord.hosts)
    assert orphan.returncode == 1 and "makepath" not in orphan.stderr
    assert "the parent node does not exist (NONODE); create it first" in orphan.stderr

    out = _shell(shared_coord.hosts, "frobnicate /x\nls /\n")
    assert out.returncode == 0, out.stderr  # the last command succeeded
    assert "unknown command: frobnicate" in out.stderr and "quit | exit" in out.stderr
    assert "pybroker coord" not in out.stderr.splitlines()[0]
    assert _shell(shared_coord.hosts, "ls /\nget /cli-nonexist\n").returncode == 1
    assert _shell(shared_coord.hosts, "ls /\nbogus\n").returncode == 1
    assert _shell(shared_coord.hosts, "help\n").stdout.startswith("commands")


def test_coord_stands_alone_as_python_m_coord(shared_coord, tmp_path) -> None:
    """coord's own command line does everything `pybroker coord` does, and neither it nor any
    coord module pulls in the broker or the Kafka client."""
    out = subprocess.run(
        [sys.executable, "-m", "coord", "create", "/alone", "x", "--server", shared_coord.hosts],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "Created /alone" in out.stdout, out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "coord", "shell", "--server", shared_coord.hosts],
        input="get /alone\ndelete /alone\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and out.stdout.strip() == "x", out.stderr
    probe = (
        "import pkgutil, importlib, sys, coord\n"
        "for m in pkgutil.walk_packages(coord.__path__, 'coord.'):\n"
        "    if m.name != 'coord.__main__': importlib.import_module(m.name)\n"
        "print(sorted({n.split('.')[0] for n in sys.modules} & {'broker', 'client'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_pybroker_coord_mounts_exactly_coords_own_commands() -> None:
    """Same subcommands, same flags, same help under both names: `pybroker coord` adds and
    drops nothing of coord's command line."""
    own = _subcommands(coord_parser())
    mounted = _subcommands(_subcommands(pybroker_parser())["coord"])
    assert sorted(own) == sorted(mounted)
    assert {"start", "shell", "ls", "get", "stat", "create", "set", "delete"} <= set(own)
    for name, parser in own.items():  # the words, not where argparse wraps the lines
        ours = parser.format_help().replace("python -m coord", "COORD").split()
        theirs = mounted[name].format_help().replace("pybroker coord", "COORD").split()
        assert ours == theirs, name
