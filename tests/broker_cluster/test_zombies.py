"""Fencing across real processes: a follower paused past replica.lag.time.max.ms leaves
the ISR and rejoins it; a leader paused (SIGSTOP) past its coord session timeout is
replaced, and when it resumes (SIGCONT) it does not acknowledge an acks=all write as a
zombie, and the write it took is truncated away once it follows the new leader."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.protocol.record_batch import build_batch
from tests.broker_cluster.cluster import start_cluster
from tests.broker_cluster.test_failover import TOPIC, create_replicated_topic, log_bytes
from tests.broker_server.wire import WireClient, fetch, produce, records_of
from tests.support.procs import ProcessGroup
from tests.support.waiting import wait_until

pytestmark = pytest.mark.cluster


def one(value: bytes) -> bytes:
    return build_batch([(None, value, None, 1)])


def produce_or_not_leader(w: WireClient, value: bytes) -> int | None:
    """acks=all produce of one record; 0, or None while the broker does not lead yet."""
    code = produce(w, TOPIC, 0, one(value), acks=-1).error_code
    assert code in (0, 6), code
    return None if code == 6 else code


def test_paused_follower_and_zombie_leader(procs: ProcessGroup, tmp_path: Path):
    c = start_cluster(procs, tmp_path)
    try:
        create_replicated_topic(c)
        wait_until("a full ISR", lambda: len(c.state(TOPIC)["isr"]) == 3)
        leader = c.state(TOPIC)["leader"]
        with WireClient(c.ports[leader], timeout=30) as w:
            assert produce(w, TOPIC, 0, one(b"before"), acks=-1).error_code == 0

        # a follower paused past the lag limit (and its session) leaves the ISR, then rejoins
        follower = next(r for r in c.state(TOPIC)["isr"] if r != leader)
        procs.pause(f"broker{follower}")
        wait_until("the paused follower out of the ISR", lambda: follower not in c.state(TOPIC)["isr"])
        procs.resume(f"broker{follower}")
        wait_until("the follower back in the ISR", lambda: follower in c.state(TOPIC)["isr"])

        # the leader is paused past its session: another replica leads a higher epoch
        before = c.state(TOPIC)
        leader = before["leader"]
        procs.pause(f"broker{leader}")
        after = wait_until("a new leader", lambda: (s := c.state(TOPIC))["leader"] not in (leader, -1) and s)
        assert after["leader_epoch"] > before["leader_epoch"]
        # coord names the new leader before the controller's LeaderAndIsr reaches it: until
        # then it answers NOT_LEADER_OR_FOLLOWER (6), and nothing is appended
        with WireClient(c.ports[after["leader"]], timeout=30) as w:
            wait_until("the new leader taking writes", lambda: produce_or_not_leader(w, b"new-leader") == 0)

        procs.resume(f"broker{leader}")
        with WireClient(c.ports[leader], timeout=30) as w:
            answer = produce(w, TOPIC, 0, one(b"zombie"), acks=-1)
        assert answer.error_code in (6, 7, 19, 20), answer  # never acknowledged

        wait_until("the old leader back in the ISR as a follower", lambda: leader in c.state(TOPIC)["isr"])
        new_leader = c.state(TOPIC)["leader"]
        with WireClient(c.ports[new_leader]) as w:
            entry, data = fetch(w, TOPIC, 0, 0, max_bytes=1 << 20)
        values = [r.value for r in records_of(data)]
        assert b"before" in values and b"new-leader" in values and b"zombie" not in values, values
        end = entry.high_watermark
        wait_until(
            "every replica's checkpointed high watermark at the log end",
            lambda: all(c.checkpointed_hw(i, TOPIC) == end for i in c.ports),
        )
        for i in c.ports:
            assert procs.stop(f"broker{i}") == 0
        assert len({log_bytes(c.data_dir(i)) for i in c.ports}) == 1  # the zombie's write is gone
        for i in c.ports:
            assert "Traceback" not in procs.log_text(f"broker{i}"), procs.log_text(f"broker{i}")
    finally:
        c.close()
