"""A broker whose disk fills up (real processes; the broker's log dir on a tmpfs the test
mounts, coord elsewhere): produce requests are refused with an error while it is full,
its log says the disk is full, the broker keeps running, no acknowledged record is lost or shows half written, and it
takes writes again by itself once space is freed, also after a restart. The topic rolls
small segments and fsyncs every message, so segment rolls, index appends and recovery
point checkpoints all meet the full disk."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from client.protocol.record_batch import build_batch
from tests.broker_server.test_lifecycle import read_all
from tests.broker_server.wire import WireClient, create_topic, produce
from tests.storage_faults.conftest import SmallDisk
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port


def _produce(port: int, value: bytes) -> Any:
    """One record through a fresh connection; its PartitionProduceResponse."""
    with WireClient(port) as c:
        return produce(c, "full", 0, build_batch([(None, value, None, int(time.time() * 1000))]))


def test_a_full_disk_refuses_produces_loses_nothing_and_heals_by_itself(
    procs: ProcessGroup, tmp_path: Path, small_disk: SmallDisk
) -> None:
    coord_port, broker_port = free_ports(2)
    procs.start("coord", "coord", "start", "--data-dir", str(tmp_path / "coord"), "--client-port", str(coord_port))
    wait_for_port(coord_port)
    broker_args = (
        "broker",
        "start",
        "--id",
        "1",
        "--data-dir",
        str(small_disk.path / "logs"),
        "--listen",
        f"127.0.0.1:{broker_port}",
        "--coord",
        f"127.0.0.1:{coord_port}",
    )
    procs.start("broker", *broker_args)
    wait_for_port(broker_port, timeout=30)
    with WireClient(broker_port) as c:
        assert create_topic(c, "full", segment_bytes="16384", flush_messages="1").error_code == 0
    acked: dict[int, bytes] = {}
    refused: list[str] = []

    def send(i: int) -> None:
        value = (b"v%d-" % i).ljust(3000, b"x")
        result = _produce(broker_port, value)
        if result.error_code == 0:
            acked[result.base_offset] = value
        else:
            refused.append(f"{result.error_code}: {result.error_message}")

    for i in range(20):
        send(i)
    assert len(acked) == 20, refused
    small_disk.fill()
    for i in range(20, 80):
        send(i)
    assert refused, "nothing was refused on a full disk"
    assert all(r.startswith("56:") for r in refused), refused[:3]  # KAFKA_STORAGE_ERROR, per partition
    assert procs.procs["broker"].poll() is None, procs.log_text("broker")[-3000:]
    # the operator is told: producers only see retriable errors and, in the end, timeouts
    assert f"log directory {small_disk.path / 'logs'} is full" in procs.log_text("broker"), procs.log_text("broker")[
        -3000:
    ]
    small_disk.free()
    for i in range(80, 100):  # takes writes again by itself
        send(i)
    assert all(o in acked for o in range(max(acked) - 5, max(acked) + 1)), refused[-3:]
    stored = {r.offset: r.value for r in read_all(broker_port, "full")}
    assert {o: stored.get(o) for o in acked} == acked
    procs.stop("broker")
    procs.start("broker", *broker_args)
    wait_for_port(broker_port, timeout=30)
    stored = {r.offset: r.value for r in read_all(broker_port, "full")}
    assert {o: stored.get(o) for o in acked} == acked
    send(100)
    assert max(acked) == max(stored) + 1, refused[-3:]
