"""Our encodings against an implementation we did not write: kafka-python 3's protocol classes.

For every (api, version) both know, a message we build is decoded by kafka-python and encoded
again by it: the bytes must be ours exactly, so each side reads what the other writes. Skipped
only where kafka-python 3 cannot be imported (it is a test dependency; .ci/run installs it).
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client.protocol import messages as m
from tests.client_protocol.test_messages import _struct

kp = pytest.importorskip("kafka.protocol", reason="kafka-python is not installed")


def _theirs() -> dict[str, type]:
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(kp.__path__, kp.__name__ + "."):
        if ".old" in info.name or ".schemas" in info.name or "generate_stubs" in info.name:
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:
            continue
        for name, obj in vars(module).items():
            if (
                isinstance(obj, type)
                and name.endswith(("Request", "Response"))
                and getattr(obj, "_valid_versions", None)
            ):
                found[name] = obj
    return found


THEIRS = _theirs()
if not THEIRS:
    pytest.skip("this kafka-python has no schema-generated protocol classes (needs 3.x)", allow_module_level=True)
# kafka-python 3.0's DeleteTopicsRequest cannot re-encode a decoded instance (no header attribute).
_THEIR_BUGS = {"DeleteTopicsRequest"}

CASES = []
for spec in m.API_BY_KEY.values():
    for kind in ("Request", "Response"):
        their = THEIRS.get(spec.name + kind)
        if their is None or spec.name + kind in _THEIR_BUGS:
            continue
        low, high = their._valid_versions
        for version in range(max(low, spec.min_version), min(high, spec.max_version) + 1):
            CASES.append((spec.name + kind, getattr(spec, kind.lower()), their, version))


@pytest.mark.slow
@pytest.mark.parametrize("name,ours,their,version", CASES, ids=[f"{c[0]}-v{c[3]}" for c in CASES])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_kafka_python_reads_and_rewrites_our_bytes_exactly(name, ours, their, version, data):
    message = data.draw(_struct(ours, version))
    # kafka-python reads any ApiVersions error answer in the v0 layout (what Kafka sends for error 35).
    if name == "ApiVersionsResponse":
        message.error_code = 0
    encoded = message.encode(version)
    assert bytes(their[version].decode(encoded).encode()) == encoded


def test_the_cross_check_covers_the_apis_clients_use():
    covered = {c[0] for c in CASES}
    for api in (
        "Produce",
        "Fetch",
        "ListOffsets",
        "Metadata",
        "OffsetCommit",
        "OffsetFetch",
        "FindCoordinator",
        "JoinGroup",
        "SyncGroup",
        "Heartbeat",
        "LeaveGroup",
        "ApiVersions",
        "CreateTopics",
    ):
        assert api + "Request" in covered and api + "Response" in covered
