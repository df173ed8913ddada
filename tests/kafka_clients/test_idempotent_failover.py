"""librdkafka's idempotent producer (enable.idempotence=true, acks=all) against a real
3-broker cluster (RF 3, min.insync.replicas 2) while the partition's leader is SIGKILLed
and later restarted: every acknowledged record is in the log exactly once, none twice,
in the order produced, and the producer never hits a fatal (sequence or epoch) error.

The retries after the kill re-send batches whose first try may already sit in the new
leader's log; only the broker's producer-state (pid, epoch, sequence) check keeps them
from landing twice.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.broker_cluster.cluster import Cluster, start_cluster
from tests.kafka_clients.conftest import needs
from tests.kafka_clients.servers import create_topic, unique_topic
from tests.support.procs import ProcessGroup
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.cluster, needs("confluent")]

MAX_RECORDS = 50_000


class IdempotentLoad:
    """A thread producing "0", "1", ... (about 500 a second) until stopped."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from confluent_kafka import Producer

        self.topic = topic
        self.fatal: list[str] = []
        self.failed: list[str] = []
        self.acked: list[int] = []
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "message.timeout.ms": 180_000,
                "request.timeout.ms": 10_000,
                "retry.backoff.ms": 100,
                "error_cb": self._error,
            }
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _error(self, err: Any) -> None:
        if err.fatal():
            self.fatal.append(str(err))

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.failed.append(str(err))
        else:
            self.acked.append(int(msg.value()))

    def _run(self) -> None:
        for i in range(MAX_RECORDS):
            if self._stop.is_set():
                return
            self.producer.produce(self.topic, value=str(i).encode(), partition=0, on_delivery=self._delivered)
            self.producer.poll(0)
            time.sleep(0.002)

    def wait_for_more(self, n: int, what: str, timeout: float = 120.0) -> None:
        target = len(self.acked) + n
        wait_until(
            f"{n} more acknowledged records {what} (fatal: {self.fatal})",
            lambda: len(self.acked) >= target or self.fatal,
            timeout,
        )
        assert not self.fatal, self.fatal

    def halt(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        """Stop producing and wait for every record sent to be acknowledged or failed."""
        self.halt()
        self._thread.join(30)
        left = self.producer.flush(180)
        assert left == 0, f"{left} records still undelivered after 180 s"


def read_all(bootstrap: str, topic: str) -> list[int]:
    """Every value in partition 0, from the beginning to the high watermark."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "failover-reader", "enable.auto.commit": False})
    try:
        _, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        out: list[int] = []
        deadline = time.monotonic() + 120
        last = -1
        while last < high - 1 and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            assert not msg.error(), msg.error()
            out.append(int(msg.value()))
            last = msg.offset()
        assert last == high - 1, f"read up to offset {last}, high watermark {high}"
        return out
    finally:
        c.close()


def test_idempotent_producer_survives_leader_sigkill_without_loss_or_duplicates(
    procs: ProcessGroup, tmp_path: Path
) -> None:
    c: Cluster = start_cluster(procs, tmp_path, 3)
    load = None
    try:
        topic = unique_topic("idem-failover")
        wait_until("a controller", c.controller)
        create_topic(c.bootstrap, topic, 1, replication=3, configs={"min.insync.replicas": "2"}, timeout=90)
        wait_until("a full ISR", lambda: len(c.state(topic)["isr"]) == 3, 90)

        load = IdempotentLoad(c.bootstrap, topic)
        load.wait_for_more(300, "before the kill")
        before = c.state(topic)
        old = before["leader"]
        procs.kill(f"broker{old}")
        wait_until("a new leader", lambda: c.state(topic)["leader"] not in (old, -1), 90)
        load.wait_for_more(300, "after the kill")
        c.start_broker(old)
        wait_until("the restarted broker back in the ISR", lambda: old in c.state(topic)["isr"], 120)
        load.wait_for_more(300, "after the restart")
        load.stop()
        assert not load.fatal, load.fatal
        assert c.state(topic)["leader_epoch"] > before["leader_epoch"]

        log = read_all(c.bootstrap, topic)
        twice = [v for v, n in Counter(log).items() if n > 1]
        assert not twice, f"{len(twice)} records stored twice, e.g. {twice[:10]}"
        missing = set(load.acked) - set(log)
        assert not missing, f"{len(missing)} acknowledged records missing, e.g. {sorted(missing)[:10]}"
        assert log == sorted(log), "the log is out of the order produced"
        assert not load.failed, f"{len(load.failed)} records failed: {load.failed[:3]}"
    finally:
        if load is not None:
            load.halt()
        c.close()
