"""`python -m coord start` holds a lock on its data directory, as the broker commands do: a
second server on the same directory refuses to start (two writers of one txn log would
corrupt it), with a message saying why. Real processes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port


def test_a_second_coord_server_on_the_same_data_dir_refuses_to_start(procs: ProcessGroup, tmp_path: Path) -> None:
    first_port, second_port = free_ports(2)
    data = str(tmp_path / "data")
    procs.start_coord("first", "start", "--data-dir", data, "--client-port", str(first_port))
    wait_for_port(first_port)
    second = procs.start_coord("second", "start", "--data-dir", data, "--client-port", str(second_port))
    try:
        code = second.wait(timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("a second coord server runs on a data directory in use") from None
    assert code != 0
    assert "in use" in procs.log_text("second"), procs.log_text("second")
    assert procs.procs["first"].poll() is None
