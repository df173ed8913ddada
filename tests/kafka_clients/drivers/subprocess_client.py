"""A driver run in a child Python whose path starts with another build of its client.

Debian's python3-confluent-kafka (librdkafka 2.0.2) installs into Debian's
dist-packages, and kafka-python 2.x cannot be installed beside 3.x; both load in a child
process whose PYTHONPATH puts that build ahead of site-packages. The child says which
file it loaded the client from, and this module refuses an answer from any other build,
so a test never passes on the wrong client.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.kafka_clients.records import Record

REPO = Path(__file__).resolve().parents[3]


class SubprocessClient:
    """produce/consume with the driver `module` under a child Python that sees `path` first."""

    def __init__(self, module: str, path: Path) -> None:
        self.module = module
        self.path = path

    def call(self, action: str, request: dict, timeout: float) -> list[Record]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(self.path)])}
        proc = subprocess.run(
            [sys.executable, "-m", "tests.kafka_clients.drivers.run", self.module, action],
            input=json.dumps(request).encode(),
            capture_output=True,
            env=env,
            cwd=REPO,
            timeout=timeout + 60,
        )
        if proc.returncode != 0:
            raise AssertionError(
                f"{self.module} under {self.path} failed to {action}:\n{proc.stderr.decode(errors='replace')[-4000:]}"
            )
        answer = json.loads(proc.stdout)
        if not answer["loaded_from"].startswith(str(self.path)):
            raise AssertionError(f"{self.module} loaded its client from {answer['loaded_from']}, not {self.path}")
        return [Record.from_json(r) for r in answer["records"]]

    def produce(
        self,
        bootstrap: str,
        topic: str,
        records: list[Record],
        *,
        compression: str | None = None,
        timeout: float = 60.0,
    ) -> list[Record]:
        request = {
            "bootstrap": bootstrap,
            "topic": topic,
            "records": [r.to_json() for r in records],
            "options": {"compression": compression, "timeout": timeout},
        }
        return self.call("produce", request, timeout)

    def consume(self, bootstrap: str, topic: str, counts: dict[int, int], *, timeout: float = 60.0) -> list[Record]:
        request = {"bootstrap": bootstrap, "topic": topic, "counts": counts, "options": {"timeout": timeout}}
        return self.call("consume", request, timeout)

    def version(self) -> str:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(self.path)])}
        code = f"from tests.kafka_clients.drivers.{self.module} import version; print(version())"
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=60
        ).stdout.strip()
