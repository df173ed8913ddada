"""What metrics cost: `pybroker perf produce` against a broker with metrics on and one with them off.

Starts two single-broker nodes, each with its own coord server: broker ON with --metrics-port (scraped every
--scrape-interval seconds during its runs: 1 by default, harder than Prometheus' usual 15) and broker OFF without. Runs
`pybroker perf produce` against them in pairs, ON then OFF, then OFF then ON, and so on, so
both see the same machine load and neither always goes first. For each pair it takes the
ratio ON/OFF of throughput and of the broker process's CPU seconds per million records (the
client is the bottleneck, so the broker's CPU shows the cost more steadily than throughput
on a shared machine); a ratio within a pair cancels the machine's drift between pairs. It
prints every pair and then the median ratio with its quartiles and extremes. Many short
rounds beat a few long ones on a noisy machine. Every process it starts, it stops. Usage:

    python benchmarks/metrics_cost.py --rounds 30 --num-records 100000
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from broker.cli.cluster_procs import pick_free_ports  # noqa: E402

PY = [sys.executable, "-m", "broker"]


def _wait_port(port: int, timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


def _node(tmp: Path, name: str, metrics_port: int | None) -> tuple[list[subprocess.Popen], int]:
    coord_port, broker_port = pick_free_ports(2)
    log = open(tmp / f"{name}.log", "wb")  # noqa: SIM115 - the children write to it after we return
    coord = subprocess.Popen(
        [*PY, "coord", "start", "--data-dir", str(tmp / f"{name}-coord"), "--client-port", str(coord_port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    _wait_port(coord_port)
    cmd = [
        *PY,
        "broker",
        "start",
        "--data-dir",
        str(tmp / f"{name}-logs"),
        "--port",
        str(broker_port),
        "--coord",
        f"127.0.0.1:{coord_port}",
    ]
    if metrics_port is not None:
        cmd += ["--metrics-port", str(metrics_port)]
    broker = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    _wait_port(broker_port)
    subprocess.run(
        [
            *PY,
            "topics",
            "create",
            "cost",
            "--partitions",
            "1",
            "--replication-factor",
            "1",
            "--bootstrap",
            f"127.0.0.1:{broker_port}",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return [broker, coord], broker_port


def _cpu_seconds(pid: int) -> float:
    """CPU time of process `pid`'s live threads so far, from the scheduler's nanosecond
    accounting (/proc/PID/task/*/schedstat; /proc/PID/stat counts 10 ms ticks, too coarse
    for a run of a fraction of a second of broker CPU)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended meanwhile
            continue
    return total / 1e9


def _perf(port: int, records: int, size: int) -> float:
    out = subprocess.run(
        [
            *PY,
            "perf",
            "produce",
            "--topic",
            "cost",
            "--num-records",
            str(records),
            "--record-size",
            str(size),
            "--acks",
            "1",
            "--bootstrap",
            f"127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["records_per_sec"])


def _scraper(port: int, stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as page:
                page.read()
        except OSError:
            pass


def _spread(ratios: list[float]) -> dict[str, float]:
    """Median ratio, its quartiles and extremes."""
    q1, median, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
    return {"median": median, "q1": q1, "q3": q3, "min": min(ratios), "max": max(ratios)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--num-records", type=int, default=100_000)
    parser.add_argument("--record-size", type=int, default=100)
    parser.add_argument(
        "--scrape-interval",
        type=float,
        default=1.0,
        help="seconds between scrapes of the ON broker's /metrics; 0: never (default 1)",
    )
    args = parser.parse_args()
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="pybroker-metrics-cost-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            (metrics_port,) = pick_free_ports(1)
            on, on_port = _node(tmp, "on", metrics_port)
            procs += on
            off, off_port = _node(tmp, "off", None)
            procs += off
            _perf(on_port, 20_000, args.record_size)  # warm-up: the partition led, caches warm
            _perf(off_port, 20_000, args.record_size)
            pairs: list[dict[str, float]] = []
            stop = threading.Event()  # one scraper for the whole run: a long interval still scrapes
            scraper = threading.Thread(target=_scraper, args=(metrics_port, stop, args.scrape_interval), daemon=True)
            if args.scrape_interval > 0:
                scraper.start()
            for r in range(args.rounds):
                pair: dict[str, float] = {}
                order = [("on", on[0], on_port), ("off", off[0], off_port)]
                for name, broker, port in order if r % 2 == 0 else order[::-1]:  # neither always goes first
                    before = _cpu_seconds(broker.pid)
                    pair[name] = _perf(port, args.num_records, args.record_size)
                    pair[f"cpu_{name}"] = (_cpu_seconds(broker.pid) - before) * 1e6 / args.num_records
                pairs.append(pair)
                print(
                    f"round {r + 1}: metrics on {pair['on']:,.0f} rec/s ({pair['cpu_on']:.2f} broker CPU s per M "
                    f"records), off {pair['off']:,.0f} rec/s ({pair['cpu_off']:.2f}); ratios on/off: throughput "
                    f"{pair['on'] / pair['off']:.3f}, broker CPU {pair['cpu_on'] / pair['cpu_off']:.3f}",
                    flush=True,
                )
            stop.set()
            if scraper.is_alive():
                scraper.join()
            summary = {
                "throughput_on_off": _spread([p["on"] / p["off"] for p in pairs]),
                "broker_cpu_on_off": _spread([p["cpu_on"] / p["cpu_off"] for p in pairs]),
                "throughput_median_on": statistics.median(p["on"] for p in pairs),
                "throughput_median_off": statistics.median(p["off"] for p in pairs),
                "cpu_median_on": statistics.median(p["cpu_on"] for p in pairs),
                "cpu_median_off": statistics.median(p["cpu_off"] for p in pairs),
                "rounds": len(pairs),
                "num_records": args.num_records,
                "record_size": args.record_size,
                "scrape_interval": args.scrape_interval,
                "load_average": os.getloadavg(),
            }
            print(json.dumps(summary))
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
