"""The acks=all leader-kill check that the secured-cluster tests share.

A 3-broker cluster is already running; this creates a one-partition topic with three
replicas, writes half the records, SIGKILLs the partition's leader, writes the rest and
reads everything back from the survivors: every acknowledged record, in order, nothing
more. It drives our own client, with whatever security settings the cluster needs.
"""

from __future__ import annotations

import time
from typing import Any

from client import Admin, Consumer, NewTopic, Producer, TopicPartition
from tests.support.procs import ProcessGroup


def acked_records_survive_a_leader_kill(
    procs: ProcessGroup,
    client_ports: list[int],
    security: dict[str, Any],
    *,
    patience: float,
    topic: str = "secured",
    count: int = 100,
) -> None:
    """Raises AssertionError unless all `count` acknowledged records outlive the leader.
    `patience` (s) bounds each wait: the ISR reaching 3, a send after the kill, the read."""
    bootstrap = ",".join(f"127.0.0.1:{p}" for p in client_ports)
    with Admin(bootstrap, **security) as admin:
        admin.create_topics([NewTopic(topic, 1, 3, {"min.insync.replicas": "2"})])
        deadline = time.monotonic() + patience
        while True:
            parts = admin.describe_topics([topic])[0].partitions
            if parts and parts[0].leader > 0 and len(parts[0].isr) == 3:
                break
            assert time.monotonic() < deadline, f"ISR never reached 3: {parts}"
            time.sleep(0.3)
        leader = parts[0].leader
    acked = []
    with Producer(bootstrap, acks="all", request_timeout_ms=5000, **security) as producer:
        for i in range(count):
            if i == count // 2:
                procs.kill(f"broker{leader}")
            producer.send(topic, b"%d" % i).result(timeout=30 if i < count // 2 else patience)
            acked.append(b"%d" % i)
    alive = ",".join(f"127.0.0.1:{p}" for i, p in enumerate(client_ports, start=1) if i != leader)
    with Consumer(alive, auto_offset_reset="earliest", **security) as consumer:
        consumer.assign([TopicPartition(topic, 0)])
        got: list[bytes] = []
        deadline = time.monotonic() + patience
        while len(got) < len(acked) and time.monotonic() < deadline:
            got += [r.value for r in consumer.poll(timeout_ms=1000)]
    assert got == acked
