"""ProcessGroup itself: a process that exits non-zero when stopped says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.procs import ProcessGroup
from tests.support.waiting import wait_until


def test_stop_of_a_failed_process_shows_its_log_tail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    procs = ProcessGroup(tmp_path)
    try:
        # A real broker refusing its command line: it exits 1 with the reason in its log.
        proc = procs.start("b1", "broker", "start", "--data-dir", str(tmp_path / "d"), "--listen", "0.0.0.0:9")
        wait_until("the broker to refuse its command line", lambda: proc.poll() is not None, timeout=30)
        assert procs.stop("b1") == 1
        err = capsys.readouterr().err
        assert "b1 exited 1 when asked to stop" in err
        assert "needs --advertise" in err  # the broker's own error line, from its log
    finally:
        procs.close()
