"""The master-election example of docs/examples runs and fails over on both servers, and
an app server stops writing while its session is SUSPENDED."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from tests.support.faultproxy import FaultProxy
from tests.support.waiting import wait_until_async

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "master_election.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("master_election", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_master_election_example_fails_over(zk_server, capsys) -> None:
    writes = await load_example().main(zk_server.hosts, "/example-test", seconds=2.0, crash_after=0.8)
    out = capsys.readouterr().out
    run = out.split("masters at the end")[0]  # shutting down hands over again
    assert run.count("I am the master") == 2 and "crashing" in run
    for sent in writes.values():
        masters = list(dict.fromkeys(sent))  # distinct, in order of use
        assert len(masters) == 2 and len(sent) >= 10  # the old master, then the new one
    assert "masters at the end: ['10.0.0." in out


async def test_app_server_pauses_writes_while_suspended(zk_server) -> None:
    example = load_example()
    db = example.DatabaseServer(zk_server.hosts, "/example-suspend", "10.0.0.9:5432")
    await db.start()
    with FaultProxy(zk_server.port) as proxy:
        app = example.AppServer(f"127.0.0.1:{proxy.listen_port}", "/example-suspend", "app")
        await app.start()
        app.write(1)
        proxy.cut()
        await wait_until_async("no master known", lambda: app.master is None, 5)
        app.write(2)  # suspended: nothing is sent
        assert app.writes == ["10.0.0.9:5432"]
        proxy.heal()
        await wait_until_async("the new master known", lambda: app.master == "10.0.0.9:5432", 10)
        app.write(3)
        assert app.writes == ["10.0.0.9:5432"] * 2
        await app.zk.stop()
    await db.zk.delete("/example-suspend", recursive=True)
    await db.zk.stop()
