"""Reading a coord server's HTTP ports from a test: the ports it printed, /metrics parsed
with the Prometheus client's own parser, and AdminServer JSON.

Every wait here is bounded and fails saying what it waited for.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.support.procs import ProcessGroup

_PRINTED = {
    "metrics": re.compile(r"Prometheus metrics on http://[\d.]+:(\d+)/metrics"),
    "admin": re.compile(r"AdminServer on http://[\d.]+:(\d+)/commands"),
}
OBSERVED = ("--metrics-port", "0", "--admin-port", "0")  # any free ports, printed at start


def printed_ports(procs: ProcessGroup, name: str, timeout: float = 20.0) -> tuple[int, int]:
    """(metrics port, admin port) as the server `name` logged them at start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = procs.log_text(name)
        found = [p.findall(text) for p in _PRINTED.values()]
        if all(found):
            return int(found[0][-1]), int(found[1][-1])
        time.sleep(0.05)
    raise AssertionError(f"{name} printed no metrics/admin ports in {timeout}s:\n{procs.log_text(name)[-2000:]}")


def get(port: int, path: str) -> tuple[str, str]:
    """(content type, body) of GET http://127.0.0.1:port/path."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.headers.get("Content-Type", ""), r.read().decode()


def command(port: int, name: str) -> dict[str, Any]:
    ctype, body = get(port, f"/commands/{name}")
    assert ctype.startswith("application/json"), ctype
    return json.loads(body)


def scrape(port: int) -> dict[str, float]:
    """Every sample of /metrics: `name` or `name{label="v",...}` -> value."""
    ctype, body = get(port, "/metrics")
    assert ctype.startswith("text/plain"), ctype
    out = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


def families(port: int) -> dict[str, str]:
    """Metric family name -> type, as /metrics declares them."""
    return {f.name: f.type for f in text_string_to_metric_families(get(port, "/metrics")[1])}


def wait_metric(port: int, name: str, want: float, timeout: float = 15.0) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    last: dict[str, float] = {}
    while time.monotonic() < deadline:
        last = scrape(port)
        if last.get(name) == want:
            return last
        time.sleep(0.05)
    raise AssertionError(f"{name} never became {want} in {timeout}s (last {last.get(name)})")
