"""The clients ride out a partition leader's failure in a 3-broker cluster (real processes).

A producer sends to every partition throughout; consumers (one with manual assignment,
one in a group) poll in a loop, and two more start right after the kill, while the dead
broker is still named leader. The broker leading some partitions is SIGKILLed (or
SIGSTOPped, so that requests to it time out instead of being refused): no
send future may fail, no exception may reach the consumers' application code, and each
consumer reads every acknowledged record exactly once per partition, in offset order
(so its position never moves backwards).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from client import Admin, Consumer, NewTopic, Producer, TopicPartition
from tests.broker_cluster.cluster import Cluster, start_cluster
from tests.support.procs import ProcessGroup
from tests.support.waiting import wait_until

pytestmark = pytest.mark.cluster

TOPIC = "failover-events"
PARTITIONS = 4
# Short client timeouts, so a request stuck on the dead broker gives up quickly; the
# delivery timeout stays Kafka's: failover must fit well inside it.
CLIENT = {"request_timeout_ms": 5000, "retry_backoff_ms": 100}


class Sending:
    """A thread sending "p:i" to partition p (round robin) until stopped; every future kept."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = Producer(bootstrap, linger_ms=5, delivery_timeout_ms=120_000, **CLIENT)
        self.acked: dict[int, list[tuple[int, bytes]]] = defaultdict(list)  # partition -> (offset, value)
        self.failures: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            pending = []
            for _ in range(40):
                p = i % PARTITIONS
                value = f"{p}:{i}".encode()
                pending.append((value, self.producer.send(TOPIC, value, partition=p)))
                i += 1
            for value, fut in pending:
                try:
                    meta = fut.result(timeout=150)
                    self.acked[meta.partition].append((meta.offset, value))
                except Exception as exc:  # noqa: BLE001 - the test asserts there are none
                    self.failures.append(exc)
            time.sleep(0.01)

    def count(self) -> int:
        return sum(len(v) for v in self.acked.values())

    def wait_for_more(self, n: int, what: str, every_partition: bool = False) -> None:
        start = {p: len(self.acked[p]) for p in range(PARTITIONS)}
        if every_partition:
            wait_until(
                f"{n} more acknowledged records on every partition ({what})",
                lambda: all(len(self.acked[p]) >= start[p] + n for p in range(PARTITIONS)),
                timeout=60,
            )
        else:
            target = sum(start.values()) + n
            wait_until(f"{n} more acknowledged records ({what})", lambda: self.count() >= target, timeout=60)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=160)
        self.producer.close()


class Polling:
    """A thread polling in a loop; records what it read and anything poll raised."""

    def __init__(self, bootstrap: str, group: str | None, name: str) -> None:
        self.consumer = Consumer(bootstrap, group_id=group, auto_offset_reset="earliest", **CLIENT)
        if group is None:
            self.consumer.assign([TopicPartition(TOPIC, p) for p in range(PARTITIONS)])
        else:
            self.consumer.subscribe([TOPIC])
        self.name = name
        self.read: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                records = self.consumer.poll(timeout_ms=200)
            except Exception as exc:  # noqa: BLE001 - the test asserts there are none
                self.errors.append(exc)
                time.sleep(0.1)
                continue
            for r in records:
                self.read[r.partition].append((r.offset, r.value))

    def caught_up(self, acked: dict[int, list[tuple[int, bytes]]]) -> bool:
        return all(len(self.read[p]) >= len(acked[p]) for p in range(PARTITIONS))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        self.consumer.close()


def create_topic(c: Cluster) -> None:
    with Admin(c.bootstrap, **CLIENT) as admin:
        admin.create_topics([NewTopic(TOPIC, PARTITIONS, 3, {"min.insync.replicas": "2"})])
    wait_until(
        "a full ISR on every partition", lambda: all(len(c.state(TOPIC, p)["isr"]) == 3 for p in range(PARTITIONS))
    )


def check_read(poller: Polling, acked: dict[int, list[tuple[int, bytes]]]) -> None:
    for p in range(PARTITIONS):
        offsets = [o for o, _ in poller.read[p]]
        assert offsets == sorted(set(offsets)), (
            f"{poller.name}: partition {p} read out of order or twice: {offsets[:50]}"
        )
        read = dict(poller.read[p])
        missing = [(o, v) for o, v in acked[p] if read.get(o) != v]
        assert not missing, (
            f"{poller.name}: partition {p}: {len(missing)} acknowledged records not read, first {missing[:5]}"
        )


@pytest.mark.parametrize("fault", ["sigkill", "sigstop"])
def test_leader_failure_is_invisible_to_producer_and_consumers(procs: ProcessGroup, tmp_path: Path, fault: str):
    """sigkill: connections to the leader are refused; sigstop: the leader hangs, so requests
    to it time out (request_timeout_ms) while its coord session expires and others lead."""
    c = start_cluster(procs, tmp_path)
    sending = None
    pollers: list[Polling] = []
    try:
        create_topic(c)
        sending = Sending(c.bootstrap)
        pollers = [Polling(c.bootstrap, None, "assign"), Polling(c.bootstrap, "failover-group", "subscribe")]
        sending.wait_for_more(200, "before the kill")
        wait_until("both consumers reading", lambda: all(sum(map(len, q.read.values())) for q in pollers))

        # the group's coordinator if it leads some of the topic's partitions (then the group
        # consumer loses its coordinator too), else partition 0's leader
        with Admin(c.bootstrap, **CLIENT) as admin:
            coordinator = admin.describe_groups(["failover-group"])[0].coordinator
        leaders = {p: c.state(TOPIC, p)["leader"] for p in range(PARTITIONS)}
        victim = coordinator if coordinator in leaders.values() else leaders[0]
        led = [p for p, leader in leaders.items() if leader == victim]
        print(f"{fault} broker {victim} (group coordinator: {coordinator}), leader of partitions {led}")
        (procs.kill if fault == "sigkill" else procs.pause)(f"broker{victim}")
        # consumers starting while the dead broker is still the partitions' leader in the
        # metadata (its coord session has not expired yet): their first positions need it
        pollers += [
            Polling(c.bootstrap, None, "assign, started during the failover"),
            Polling(c.bootstrap, "failover-late-group", "subscribe, started during the failover"),
        ]
        wait_until("new leaders", lambda: all(c.state(TOPIC, p)["leader"] not in (victim, -1) for p in led))
        sending.wait_for_more(50, "after the kill", every_partition=True)
        sending.stop()
        acked, failures, sending = sending.acked, sending.failures, None
        assert not failures, f"{len(failures)} sends failed, first {failures[:3]!r}"

        for q in pollers:
            wait_until(f"{q.name} has read every acknowledged record", lambda q=q: q.caught_up(acked), timeout=60)
        time.sleep(0.5)  # a duplicate delivered late would show now
        for q in pollers:
            q.stop()
        assert not [e for q in pollers for e in q.errors], {q.name: [repr(e) for e in q.errors[:5]] for q in pollers}
        for q in pollers:
            check_read(q, acked)
        pollers = []
    finally:
        if sending is not None:
            sending.stop()
        for q in pollers:
            q.stop()
        c.close()


def test_admin_follows_the_controller_when_it_dies(procs: ProcessGroup, tmp_path: Path):
    """create_topics right after the controller's SIGKILL (the admin's metadata still names
    it): sent again to the new controller once one is elected, within request_timeout_ms."""
    c = start_cluster(procs, tmp_path)
    try:
        ctl = wait_until("a controller", c.controller)[0]
        with Admin(c.bootstrap, request_timeout_ms=20_000, retry_backoff_ms=100) as admin:
            wait_until(
                "the admin's metadata naming the controller", lambda: admin.describe_cluster().controller_id == ctl
            )
            procs.kill(f"broker{ctl}")
            admin.create_topics([NewTopic("after-the-controller", 2, 2)])
            assert "after-the-controller" in admin.list_topics()
            assert admin.describe_cluster().controller_id not in (ctl, -1)
    finally:
        c.close()
