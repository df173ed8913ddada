"""The Kafka clients the compatibility tests drive, by name, each with why it cannot run here.

Every client offers the same two calls (see records.py for the Record they exchange):
`produce(bootstrap, topic, records, compression=..., timeout=...)` writes records in
order and returns them as acknowledged (offset and timestamp), and
`consume(bootstrap, topic, counts, timeout=...)` reads partitions from the beginning.
A client is loaded only when a test asks for it, so a missing one skips that test with
the reason given here instead of breaking collection. This module must never install
anything: .ci/run does.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.kafka_clients.drivers.subprocess_client import REPO, SubprocessClient

DEBIAN_DIST_PACKAGES = Path("/usr/lib/python3/dist-packages")
KAFKA_PYTHON_2 = Path(os.environ.get("KAFKA_PYTHON_2_PATH", REPO / "build" / "kafka-python-2"))


@dataclass(frozen=True)
class ClientInfo:
    name: str
    missing: str | None  # why it cannot run here; None: it can
    module: str  # driver module under tests.kafka_clients.drivers
    subprocess_path: Path | None = None  # run in a child Python with this first on its path
    reports_offsets: bool = True  # kcat -P says nothing of where records landed
    sets_timestamps: bool = True  # kcat -P cannot give a record its CreateTime
    writes_nulls: bool = True  # kcat -P cannot write a null key or value


def _module_missing(module: str, install: str) -> str | None:
    return None if importlib.util.find_spec(module) is not None else f"{module} is not importable ({install})"


def _dir_missing(path: Path, what: str) -> str | None:
    return None if path.is_dir() else f"{path} is missing ({what})"


def _debian_confluent_missing() -> str | None:
    """Debian builds python3-confluent-kafka for Debian's python3; it loads here only when
    that is the same CPython minor version (same extension ABI) as ours."""
    package = DEBIAN_DIST_PACKAGES / "confluent_kafka"
    missing = _dir_missing(package, "apt-get install python3-confluent-kafka")
    if missing:
        return missing
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    if not (package / f"cimpl{suffix}").exists():
        return f"{package} holds no cimpl{suffix}: built for another Python than this one"
    return None


CLIENTS: dict[str, ClientInfo] = {
    c.name: c
    for c in [
        ClientInfo(
            "kcat",
            None if shutil.which("kcat") else "kcat is not on PATH (apt-get install kcat)",
            "with_kcat",
            reports_offsets=False,
            sets_timestamps=False,
            writes_nulls=False,
        ),
        ClientInfo("confluent", _module_missing("confluent_kafka", "pip install -e '.[test]'"), "with_confluent"),
        ClientInfo("kafka-python", _module_missing("kafka", "pip install -e '.[test]'"), "with_kafka_python"),
        ClientInfo("aiokafka", _module_missing("aiokafka", "pip install -e '.[test]'"), "with_aiokafka"),
        ClientInfo("pybroker", None, "with_pybroker"),
        ClientInfo(
            "confluent-debian", _debian_confluent_missing(), "with_confluent", subprocess_path=DEBIAN_DIST_PACKAGES
        ),
        ClientInfo(
            "kafka-python-2",
            _dir_missing(
                KAFKA_PYTHON_2 / "kafka",
                "pip install --target build/kafka-python-2 'kafka-python>=2.3,<3', as .ci/run does",
            ),
            "with_kafka_python",
            subprocess_path=KAFKA_PYTHON_2,
        ),
    ]
}


def load(name: str) -> Any:
    """The driver for client `name`: a module, or a SubprocessClient with the same calls."""
    info = CLIENTS[name]
    if info.subprocess_path is not None:
        return SubprocessClient(info.module, info.subprocess_path)
    return importlib.import_module(f"tests.kafka_clients.drivers.{info.module}")
