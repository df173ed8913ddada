"""Kafka's log-directory failure across real broker processes: 3 brokers, each with two
log directories (an ext4 loop device the test can kill, and a healthy one), an RF 3 topic
in the killable directories and another in the healthy ones.

The disk under the replicated topic's leader dies (every read, write and fsync on it
fails with EIO, from outside the process): that broker takes the directory offline and
tells the controller, which learns from LeaderAndIsr answers (KAFKA_STORAGE_ERROR) that
its replica is offline and elects another in-sync replica. The producers (ours and
confluent-kafka's) keep going, every acknowledged record is there, and the broker keeps
running and keeps its replica of the other topic, on its healthy directory, in sync.
With the disk replaced by an empty one and the broker restarted, its replica is copied
back from the new leader and rejoins the ISR.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.broker_cluster.cluster import start_cluster
from tests.broker_cluster.test_failover import (
    TOPIC,
    Load,
    assert_acked_in_order,
    consume_all,
    create_replicated_topic,
)
from tests.broker_server.wire import WireClient, fetch, list_offset
from tests.storage_faults.conftest import FailingDisk
from tests.support.procs import ProcessGroup
from tests.support.waiting import wait_until

pytestmark = pytest.mark.cluster

KAFKA_STORAGE_ERROR = 56


# Broker 1 starts first and is the controller; partition 0's first replica (its leader) is
# broker 1, unless racks order the brokers 2, 1, 3 (rack "a" first: brokers 2 and 3).
RACKS = {"controller": {}, "another broker": {1: "b", 2: "a", 3: "a"}}


@pytest.mark.parametrize("failing", sorted(RACKS))
def test_a_failed_log_dir_moves_only_its_partitions_and_loses_nothing(
    procs: ProcessGroup, tmp_path: Path, failing_disks: Callable[[str], FailingDisk], failing: str
) -> None:
    disks = {i: failing_disks(f"disk{i}") for i in (1, 2, 3)}
    racks = RACKS[failing]
    dirs = {
        i: f'"log.dirs" = "{disks[i].path}/logs,{tmp_path}/healthy{i}"\n'
        + (f'"broker.rack" = "{racks[i]}"\n' if i in racks else "")
        for i in disks
    }
    c = start_cluster(procs, tmp_path, broker_config=dirs)
    load = None
    try:
        create_replicated_topic(c)  # first: every broker places it in its killable directory
        create_replicated_topic(c, "other")  # then: in the healthy one, the least loaded
        wait_until(
            "both topics fully in sync", lambda: len(c.state(TOPIC)["isr"]) == 3 and len(c.state("other")["isr"]) == 3
        )
        victim = c.state(TOPIC)["leader"]
        controller = wait_until("a controller", c.controller)[0]
        assert (victim == controller) == (failing == "controller")
        assert (disks[victim].path / "logs" / f"{TOPIC}-0").is_dir()
        assert (tmp_path / f"healthy{victim}" / "other-0").is_dir()
        load = Load(c.bootstrap)
        load.wait_for_more(50, "before the disk fails")
        before = c.state(TOPIC)["leader_epoch"]
        disks[victim].fail()
        moved = wait_until(
            "leadership moved off the failed disk",
            lambda: (s := c.state(TOPIC))["leader"] not in (victim, -1) and victim not in s["isr"] and s,
        )
        assert moved["leader_epoch"] > before
        with WireClient(c.ports[victim]) as w:  # per partition: the failed one, and the healthy one it leads
            assert fetch(w, TOPIC, 0, 0)[0].error_code == KAFKA_STORAGE_ERROR
            assert list_offset(w, TOPIC, 0, -1).error_code == KAFKA_STORAGE_ERROR
            assert c.state("other")["leader"] == victim  # both topics' first replica
            assert fetch(w, "other", 0, 0)[0].error_code == 0
            assert list_offset(w, "other", 0, -1).error_code == 0
        load.wait_for_more(100, "after the leader's disk failed")
        assert procs.procs[f"broker{victim}"].poll() is None, "one failed directory of two stopped the broker"
        time.sleep(3)  # longer than replica.lag.time.max.ms: the healthy replica stays in sync
        assert victim in c.state("other")["isr"], c.state("other")
        confluent_acked = _confluent_produce(c.bootstrap, 50)
        assert procs.stop(f"broker{victim}") == 0
        disks[victim].replace()  # the operator's fix: a new, empty disk, then a restart
        c.start_broker(victim)
        wait_until("the restarted broker's new replica back in sync", lambda: victim in c.state(TOPIC)["isr"])
        load.stop()
        consumed = consume_all(c.bootstrap, len(load.acked) + len(confluent_acked))
        assert_acked_in_order(load.acked, [v for v in consumed if v >= 0])
        assert set(confluent_acked) <= set(consumed)
        log_text = procs.log_text(f"broker{victim}")
        assert "OFFLINE" in log_text and str(disks[victim].path / "logs") in log_text
    finally:
        if load is not None:
            load.stop()
        c.close()


def _confluent_produce(bootstrap: str, n: int) -> list[int]:
    """`n` records (negative values, apart from our producer's) through confluent-kafka,
    acks=all; the values it saw acknowledged."""
    confluent_kafka = pytest.importorskip("confluent_kafka")
    acked: list[int] = []

    def done(err: object, msg: object) -> None:
        if err is None:
            acked.append(int(msg.value()))

    producer = confluent_kafka.Producer(
        {"bootstrap.servers": bootstrap, "acks": "all", "message.timeout.ms": 30000, "api.version.request": True}
    )
    for i in range(1, n + 1):
        producer.produce(TOPIC, str(-i).encode(), on_delivery=done)
    assert producer.flush(30) == 0, "confluent-kafka could not deliver every record"
    assert len(acked) == n
    return acked
