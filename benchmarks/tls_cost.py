"""What TLS costs the broker: the same records produced and consumed with kcat over a PLAINTEXT
listener and over an SSL listener of one `pybroker start` node.

Makes a throwaway CA and server certificate in a temporary directory (never kept), starts
the node with both listeners (ssl.client.auth=none), then for each listener: kcat -P writes
N records of `--record-size` bytes from a file (acks=1), kcat -C reads them all back (-e).
Plaintext fetches go out with sendfile; TLS fetches are read and encrypted in the broker.
Prints one JSON line per phase. Needs kcat. This script must never be imported by pybroker
code or tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.broker_security.certs import Authority  # the tests' certificate maker
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port


def kcat(port: int, tls: list[str], *args: str, stdin=None) -> float:
    start = time.monotonic()
    subprocess.run(
        ["kcat", "-b", f"127.0.0.1:{port}", *tls, *args],
        stdin=stdin,
        stdout=subprocess.DEVNULL,
        check=True,
        timeout=600,
    )
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-records", type=int, default=300000)
    parser.add_argument("--record-size", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        ca = Authority(d)
        server = ca.issue("server", "broker", server=True)
        plain, tls_port, coord = free_ports(3)
        (d / "broker.toml").write_text(
            f'listeners = "PLAINTEXT://127.0.0.1:{plain},SSL://127.0.0.1:{tls_port}"\n'
            f'"ssl.keystore.location" = "{server.combined}"\n"auto.create.topics.enable" = true\n'
        )
        records = d / "records"
        line = b"x" * (args.record_size - 1) + b"\n"
        records.write_bytes(line * args.num_records)
        procs = ProcessGroup(d)
        try:
            procs.start(
                "node",
                "start",
                "--data-dir",
                str(d / "data"),
                "--coord-port",
                str(coord),
                "--config",
                str(d / "broker.toml"),
            )
            wait_for_port(plain, 60)
            wait_for_port(tls_port, 60)
            for name, port, tls in (
                ("PLAINTEXT", plain, []),
                ("SSL", tls_port, ["-X", "security.protocol=SSL", "-X", f"ssl.ca.location={ca.pem.cert}"]),
            ):
                topic = f"tls-cost-{name.lower()}"
                with open(records, "rb") as f:
                    seconds = kcat(port, tls, "-P", "-t", topic, "-X", "acks=1", "-X", "linger.ms=5", stdin=f)
                print(
                    json.dumps(
                        {
                            "listener": name,
                            "phase": "produce",
                            "records": args.num_records,
                            "record_size": args.record_size,
                            "seconds": round(seconds, 2),
                            "records_per_s": round(args.num_records / seconds),
                            "MB_per_s": round(args.num_records * args.record_size / seconds / 1e6, 1),
                        }
                    )
                )
                seconds = kcat(port, tls, "-C", "-t", topic, "-o", "beginning", "-e", "-q")
                print(
                    json.dumps(
                        {
                            "listener": name,
                            "phase": "consume",
                            "records": args.num_records,
                            "seconds": round(seconds, 2),
                            "records_per_s": round(args.num_records / seconds),
                            "MB_per_s": round(args.num_records * args.record_size / seconds / 1e6, 1),
                        }
                    )
                )
        finally:
            procs.close()
        os.sync()


if __name__ == "__main__":
    main()
