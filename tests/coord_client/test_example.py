"""The master-election example of docs/examples runs and fails over on both servers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "master_election.py"


async def test_master_election_example_fails_over(zk_server, capsys) -> None:
    spec = importlib.util.spec_from_file_location("master_election", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    writes = await module.main(zk_server.hosts, "/example-test", seconds=2.0, crash_after=0.8)
    out = capsys.readouterr().out
    run = out.split("masters at the end")[0]           # shutting down hands over again
    assert run.count("I am the master") == 2 and "crashing" in run
    for sent in writes.values():
        masters = list(dict.fromkeys(sent))            # distinct, in order of use
        assert len(masters) == 2 and len(sent) >= 10   # the old master, then the new one
    assert "masters at the end: ['10.0.0." in out
