"""kcat (Debian's, on librdkafka 2.0) as a writer and a reader of records, for the
cross-client tests: what a Kafka user types in a shell.

kcat -P reads one record per line from stdin, with `-K` splitting key from value and
every `-H name=value` applied to each record of the run; it cannot set a record's
timestamp or say which offset a record got. So `produce` runs kcat once per run of
records that share a partition and headers, and returns them without offsets or
timestamps (the test checks those against the readers). kcat -C -J prints one JSON
object per record. This module must never hide a kcat failure: a non-zero exit fails
with kcat's own stderr.
"""

from __future__ import annotations

import json
import subprocess
from itertools import groupby

from tests.kafka_clients.records import Record

KEY_DELIMITER = "|"


def version() -> str:
    out = subprocess.run(["kcat", "-V"], capture_output=True, text=True, timeout=30).stdout
    return " ".join(line.strip() for line in out.splitlines() if line.startswith("Version"))


def run(args: list[str], stdin: bytes = b"", timeout: float = 60.0) -> bytes:
    """kcat ARGS..., its stdout; fails on a non-zero exit or a delivery failure, with stderr."""
    proc = subprocess.run(["kcat", *args], input=stdin, capture_output=True, timeout=timeout)
    err = proc.stderr.decode(errors="replace")
    if proc.returncode != 0 or "Delivery failed" in err:
        raise AssertionError(f"kcat {' '.join(args)} exited {proc.returncode}:\n{err}")
    return proc.stdout


def produce(
    bootstrap: str, topic: str, records: list[Record], *, compression: str | None = None, timeout: float = 60.0
) -> list[Record]:
    """Write `records` in order; they come back without offsets or timestamps (kcat does not say)."""
    in_partition_order = sorted(records, key=lambda r: r.partition)  # stable: each partition's order kept
    for (partition, headers), group in groupby(in_partition_order, key=lambda r: (r.partition, r.headers)):
        lines = []
        for r in group:
            if r.key is None or r.value is None or r.timestamp is not None:
                raise ValueError("kcat -P writes neither null keys or values nor a record's own timestamp")
            if KEY_DELIMITER.encode() in r.key or b"\n" in r.key + r.value:
                raise ValueError(f"kcat -P cannot write {r} with '{KEY_DELIMITER}' as key delimiter")
            lines.append(r.key + KEY_DELIMITER.encode() + r.value + b"\n")
        args = ["-P", "-b", bootstrap, "-t", topic, "-p", str(partition), "-K", KEY_DELIMITER, "-X", "acks=all"]
        for name, value in headers:
            args += ["-H", f"{name}={value.decode()}"]
        if compression:
            args += ["-z", compression]
        run(args, b"".join(lines), timeout)
    return list(records)


def consume(bootstrap: str, topic: str, counts: dict[int, int], *, timeout: float = 60.0) -> list[Record]:
    """Read the whole topic from the beginning to its end (-e), at most sum(counts) records."""
    out = run(
        ["-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-J", "-c", str(sum(counts.values()))],
        timeout=timeout,
    )
    return [from_json(json.loads(line)) for line in out.splitlines() if line.strip()]


def from_json(obj: dict) -> Record:
    flat = obj.get("headers") or []
    headers = tuple((flat[i], _bytes(flat[i + 1])) for i in range(0, len(flat), 2))
    return Record(
        obj["partition"], _bytes(obj.get("key")), _bytes(obj.get("payload")), headers, obj["ts"], obj["offset"]
    )


def _bytes(s: str | None) -> bytes | None:
    return None if s is None else s.encode()
