"""`pybroker perf log`: the storage engine's own throughput, next to the disk's `dd` figure.

Appends --size-mb of --batch-kb batches of --record-size records to a fresh partition
log (the same prebuilt batch each time: building batches is the client's cost, not the
log's), then reads it back sequentially and at random offsets, and runs `dd` for the
same amount in the same directory. One line per figure, then one JSON line. Everything
it writes lives in a temporary directory under --dir, removed at the end.
This module must never be imported by the broker's serving code.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from broker.log.config import LogConfig
from broker.log.partition_log import PartitionLog
from client.protocol.record_batch import build_batch, iter_batches

MB = 1024 * 1024


def _template(batch_kb: int, record_size: int) -> tuple[bytes, int]:
    per_record = record_size + 8  # Kafka record framing: length, attributes, deltas, null key, no headers
    count = max(1, (batch_kb * 1024 - 61) // per_record)
    value = b"v" * record_size
    batch = build_batch([(None, value, None, 1_700_000_000_000 + i) for i in range(count)])
    return batch, count


def _append(directory: Path, batch: bytes, n: int, fsync_each: bool) -> tuple[PartitionLog, float, float]:
    plog = PartitionLog.open(directory, LogConfig(retention_ms=-1))
    append, flush = plog.append, plog.flush
    t0 = time.perf_counter()
    for _ in range(n):
        append(batch, leader_epoch=0)
        if fsync_each:
            flush()
    t1 = time.perf_counter()
    flush()
    return plog, t1 - t0, time.perf_counter() - t0


def _raw_writes(directory: Path, batch: bytes, n: int) -> float:
    """Seconds a bare `os.write` loop of the same batches plus one fsync takes."""
    target = directory / "raw.bin"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            os.write(fd, batch)
        os.fsync(fd)
        return time.perf_counter() - t0
    finally:
        os.close(fd)
        target.unlink()


def _sequential_read(plog: PartitionLog, chunk: int) -> tuple[int, float]:
    offset, total, end = 0, 0, plog.log_end_offset
    t0 = time.perf_counter()
    while offset < end:
        with plog.read(offset, chunk) as piece:
            data = piece.read_bytes()
        total += len(data)
        offset = _next_offset(data)
    return total, time.perf_counter() - t0


def _next_offset(data: bytes) -> int:
    last = None
    for header in iter_batches(data):
        last = header
    assert last is not None
    return last.last_offset + 1


def _random_lookups(plog: PartitionLog, count: int, rng: random.Random) -> float:
    end, read = plog.log_end_offset, plog.read
    offsets = [rng.randrange(end) for _ in range(count)]
    t0 = time.perf_counter()
    for offset in offsets:
        read(offset, 1).close()
    return time.perf_counter() - t0


def _dd(directory: Path, size_mb: int) -> float | None:
    """Seconds `dd ... conv=fdatasync` takes to write size_mb MiB, or None without dd."""
    target = directory / "dd.bin"
    cmd = ["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={size_mb}", "conv=fdatasync"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=600)
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        target.unlink(missing_ok=True)
    m = re.search(r"copied, ([0-9.]+) s", out.stderr)
    return float(m.group(1)) if m else None


def run(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="pybroker-perf-log-", dir=args.dir))
    out: dict[str, float | int | str] = {}
    say: Callable[[str], None] = lambda line: print(line, flush=True)  # noqa: E731
    try:
        batch, per_batch = _template(args.batch_kb, args.record_size)
        n = max(1, args.size_mb * MB // len(batch))
        size_mb = n * len(batch) / MB
        say(
            f"batches of {len(batch)} bytes, {per_batch} records of {args.record_size} B; {n} batches = "
            f"{size_mb:.0f} MiB in {root}"
        )
        dd_s = _dd(root, args.size_mb)
        raw_s = _raw_writes(root, batch, n)
        out["python_write_loop_mb_s"] = round(size_mb / raw_s, 1)
        say(f"plain os.write loop + fsync:    {out['python_write_loop_mb_s']:9.1f} MB/s (Python's ceiling here)")
        plog, loop_s, total_s = _append(root / "nofsync-0", batch, n, fsync_each=False)
        dd_after = _dd(root, args.size_mb)  # the disk is shared: measure it on both sides
        dd_s = (dd_s + dd_after) / 2 if dd_s and dd_after else dd_s or dd_after
        if dd_s:
            out["dd_fdatasync_mb_s"] = round(args.size_mb / dd_s, 1)
            say(
                f"dd bs=1M conv=fdatasync:        {out['dd_fdatasync_mb_s']:9.1f} MB/s (mean of a run before "
                f"and after the append)"
            )
        out["append_mb_s"] = round(size_mb / loop_s, 1)
        out["append_records_s"] = round(n * per_batch / loop_s)
        out["append_then_fsync_mb_s"] = round(size_mb / total_s, 1)
        say(f"append, no fsync:               {out['append_mb_s']:9.1f} MB/s {out['append_records_s']:>12,} rec/s")
        share = f"  ({100 * (size_mb / total_s) / (args.size_mb / dd_s):.0f}% of dd)" if dd_s else ""
        say(f"append + one fsync at the end:  {out['append_then_fsync_mb_s']:9.1f} MB/s{share}")
        read_bytes, read_s = _sequential_read(plog, MB)
        out["seq_read_mb_s"] = round(read_bytes / MB / read_s, 1)
        out["seq_read_records_s"] = round(read_bytes / len(batch) * per_batch / read_s)
        say(
            f"sequential read (1 MiB reads):  {out['seq_read_mb_s']:9.1f} MB/s {out['seq_read_records_s']:>12,} rec/s"
            " (page cache warm)"
        )
        lookups_s = _random_lookups(plog, args.lookups, random.Random(1))
        out["random_lookups_s"] = round(args.lookups / lookups_s)
        say(f"random offset lookups:          {out['random_lookups_s']:>9,} /s over {plog.log_end_offset:,} offsets")
        plog.close()
        shutil.rmtree(root / "nofsync-0")
        fsync_n = max(1, min(n, args.fsync_mb * MB // len(batch)))
        plog, loop_s, _ = _append(root / "fsync-0", batch, fsync_n, fsync_each=True)
        plog.close()
        out["append_fsync_each_mb_s"] = round(fsync_n * len(batch) / MB / loop_s, 1)
        out["append_fsync_each_batches_s"] = round(fsync_n / loop_s)
        say(
            f"append + fsync per batch:       {out['append_fsync_each_mb_s']:9.1f} MB/s "
            f"{out['append_fsync_each_batches_s']:>8,} batches/s (on {args.fsync_mb} MiB only)"
        )
        print(json.dumps(out), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0
