"""What metrics cost: `pybroker perf produce` against a broker with metrics on and one with them off.

Starts two single-broker nodes, each with its own coord server: broker ON with --metrics-port (scraped every
--scrape-interval seconds during its runs: 1 by default, harder than Prometheus' usual 15) and broker OFF without. Runs
`pybroker perf produce` against them alternately, ON, OFF, OFF, ON, ON, OFF, ..., so both
see the same machine load, and prints each run and the medians of throughput and of the
broker process's CPU seconds per million records (the client is the bottleneck, so
the broker's CPU shows the cost more steadily than throughput on a shared machine). Every process it starts, it
stops. Usage:

    python benchmarks/metrics_cost.py --rounds 3 --num-records 300000
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
    coord = subprocess.Popen([*PY, "coord", "start", "--data-dir", str(tmp / f"{name}-coord"),
                              "--client-port", str(coord_port)], stdout=log, stderr=subprocess.STDOUT)
    _wait_port(coord_port)
    cmd = [*PY, "broker", "start", "--data-dir", str(tmp / f"{name}-logs"), "--port", str(broker_port),
           "--coord", f"127.0.0.1:{coord_port}"]
    if metrics_port is not None:
        cmd += ["--metrics-port", str(metrics_port)]
    broker = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    _wait_port(broker_port)
    return [broker, coord], broker_port


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _perf(port: int, records: int, size: int) -> float:
    out = subprocess.run([*PY, "perf", "produce", "--topic", "cost", "--num-records", str(records),
                          "--record-size", str(size), "--acks", "1", "--bootstrap", f"127.0.0.1:{port}"],
                         capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["records_per_sec"])


def _scraper(port: int, stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
        except OSError:
            pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--num-records", type=int, default=300_000)
    parser.add_argument("--record-size", type=int, default=100)
    parser.add_argument("--scrape-interval", type=float, default=1.0,
                        help="seconds between scrapes of the ON broker's /metrics; 0: never (default 1)")
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
            _perf(on_port, 20_000, args.record_size)    # warm-up: topic auto-created, caches warm
            _perf(off_port, 20_000, args.record_size)
            results: dict[str, list[float]] = {"on": [], "off": []}
            cpu: dict[str, list[float]] = {"on": [], "off": []}   # broker CPU seconds per million records
            for r in range(args.rounds):
                stop = threading.Event()
                scraper = threading.Thread(target=_scraper, args=(metrics_port, stop, args.scrape_interval),
                                           daemon=True)
                if args.scrape_interval > 0:
                    scraper.start()
                order = [("on", on[0], on_port), ("off", off[0], off_port)]
                for name, broker, port in (order if r % 2 == 0 else order[::-1]):   # neither always goes first
                    before = _cpu_seconds(broker.pid)
                    results[name].append(_perf(port, args.num_records, args.record_size))
                    cpu[name].append((_cpu_seconds(broker.pid) - before) * 1e6 / args.num_records)
                stop.set()
                if scraper.is_alive():
                    scraper.join()
                print(f"round {r + 1}: metrics on {results['on'][-1]:,.0f} rec/s ({cpu['on'][-1]:.2f} broker CPU s "
                      f"per M records), off {results['off'][-1]:,.0f} rec/s ({cpu['off'][-1]:.2f})", flush=True)
            on_median, off_median = statistics.median(results["on"]), statistics.median(results["off"])
            on_cpu, off_cpu = statistics.median(cpu["on"]), statistics.median(cpu["off"])
            print(json.dumps({"on": results["on"], "off": results["off"], "on_median": on_median,
                              "off_median": off_median, "throughput_cost_percent": 100 * (1 - on_median / off_median),
                              "cpu_on": cpu["on"], "cpu_off": cpu["off"],
                              "broker_cpu_cost_percent": 100 * (on_cpu / off_cpu - 1)}))
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
