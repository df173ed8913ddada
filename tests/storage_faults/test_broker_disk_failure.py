"""A broker whose only log directory's disk dies (real processes; the directory on an ext4
loop device the test shuts down, so every read, write and fsync of it fails with EIO):
the produce that meets the failure gets KAFKA_STORAGE_ERROR for its partition, and the
broker, with no log directory left, stops with a non-zero exit and a message naming the
directory, as Kafka's broker halts when all its log directories are offline."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from client.errors import ClientError
from client.protocol.record_batch import build_batch
from tests.broker_server.wire import WireClient, create_topic, produce
from tests.storage_faults.conftest import FailingDisk
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port

KAFKA_STORAGE_ERROR = 56


def test_a_broker_whose_only_log_dir_fails_stops_with_a_clear_message(
    procs: ProcessGroup, tmp_path: Path, failing_disks: Callable[[str], FailingDisk]
) -> None:
    disk = failing_disks("disk")
    coord_port, broker_port = free_ports(2)
    procs.start("coord", "coord", "start", "--data-dir", str(tmp_path / "coord"), "--client-port", str(coord_port))
    wait_for_port(coord_port)
    broker = procs.start(
        "broker",
        "broker",
        "start",
        "--id",
        "1",
        "--data-dir",
        str(disk.path / "logs"),
        "--listen",
        f"127.0.0.1:{broker_port}",
        "--coord",
        f"127.0.0.1:{coord_port}",
    )
    wait_for_port(broker_port, timeout=30)
    with WireClient(broker_port) as c:
        assert create_topic(c, "t").error_code == 0
        batch = build_batch([(None, b"before", None, int(time.time() * 1000))])
        for _ in range(50):  # bounded: the new topic's leadership reaches the broker
            if produce(c, "t", 0, batch).error_code == 0:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the topic never took a record")
        disk.fail()
        answer = produce(c, "t", 0, build_batch([(None, b"after", None, int(time.time() * 1000))]))
        assert answer.error_code == KAFKA_STORAGE_ERROR, answer
    deadline = time.monotonic() + 30
    while broker.poll() is None and time.monotonic() < deadline:
        try:  # more writes find the broker gone, or refused
            with WireClient(broker_port) as c:
                produce(c, "t", 0, batch)
        except (ClientError, OSError):
            pass
        time.sleep(0.2)
    assert broker.poll() == 1, procs.log_text("broker")[-3000:]
    text = procs.log_text("broker")
    assert "no log directory left" in text and str(disk.path / "logs") in text, text[-3000:]
