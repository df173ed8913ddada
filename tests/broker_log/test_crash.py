"""Crash test: a child process appends and fsyncs in a loop, printing each acknowledged
offset; it is SIGKILLed at a random moment, garbage or half a batch is added to the tail
file, and the reopened log must hold every acknowledged batch, intact and indexed."""

from __future__ import annotations

import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from broker.log import LogConfig, PartitionLog
from tests.broker_log.helpers import batches_in, make_batch

CONFIG = LogConfig(segment_bytes=20_000, index_interval_bytes=500, flush_messages=1)

CHILD = """
import sys
from pathlib import Path
from broker.log import LogConfig, PartitionLog
from tests.broker_log.helpers import make_batch
config = LogConfig(segment_bytes=20_000, index_interval_bytes=500, flush_messages=1)
plog = PartitionLog.open(Path(sys.argv[1]), config)
i = plog.log_end_offset
while True:
    info = plog.append(make_batch(2, i, i // 2), leader_epoch=1)
    plog.flush()
    print(info.last_offset, flush=True)
    i = info.last_offset + 1
"""


def run_and_kill(directory: Path, rng: random.Random) -> int:
    """Run the child until it has acknowledged a random number of batches; SIGKILL it."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(directory)], stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2]
    )
    acked, target, deadline = -1, rng.randint(5, 120), time.monotonic() + 30
    try:
        while acked < 2 * target and time.monotonic() < deadline:
            ready, _, _ = select.select([child.stdout], [], [], 1.0)
            if ready:
                line = child.stdout.readline()
                if not line:
                    break
                acked = int(line)
        time.sleep(rng.random() * 0.02)  # kill mid-append now and then
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()
    assert acked >= 1, "the child acknowledged nothing"
    return acked


def damage_tail(directory: Path, rng: random.Random) -> None:
    last = sorted(directory.glob("*.log"))[-1]
    with open(last, "ab") as f:
        choice = rng.randrange(3)
        if choice == 0:
            f.write(make_batch(2, 0, 9999)[: rng.randint(1, 60)])
        elif choice == 1:
            f.write(make_batch(2, 0, 9999)[: rng.randint(61, 100)])
        else:
            f.write(rng.randbytes(rng.randint(1, 300)))


def check(directory: Path, acked: int) -> int:
    plog = PartitionLog.open(directory, CONFIG)
    try:
        assert plog.log_end_offset > acked, f"acknowledged offset {acked} lost (log end {plog.log_end_offset})"
        expected_next = 0
        offset = 0
        while offset < plog.log_end_offset:
            with plog.read(offset, 10**9) as piece:  # up to the end of one segment
                batches = batches_in(piece.read_bytes())  # crc checked: no torn batch served
            for base, last, values in batches:
                assert base == expected_next and last == base + 1
                assert values[0].startswith(b"%d-0-" % (base // 2))
                expected_next = last + 1
            offset = expected_next
        for probe in range(0, plog.log_end_offset, 7):  # the indexes find every offset
            with plog.read(probe, 1) as piece:
                ((base, last, _),) = batches_in(piece.read_bytes())
            assert base <= probe <= last
        assert plog.leader_epochs.latest_epoch == 1
        return plog.log_end_offset
    finally:
        plog.close()


@pytest.mark.parametrize("seed", [1, 2])
def test_acknowledged_batches_survive_sigkill_and_a_damaged_tail(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    directory = tmp_path / "t-0"
    for _ in range(3):
        acked = run_and_kill(directory, rng)
        damage_tail(directory, rng)
        check(directory, acked)


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(20))
def test_crash_soak(tmp_path: Path, seed: int) -> None:
    test_acknowledged_batches_survive_sigkill_and_a_damaged_tail(tmp_path, seed + 100)
