"""Operations across real brokers: SIGTERM moves leadership away before the broker exits
(controlled shutdown), the preferred replica gets leadership back once it is in sync
again, and deleting a topic removes its replicas from every broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.protocol import messages as m
from client.protocol.api import ApiKey
from tests.broker_cluster.cluster import start_cluster
from tests.broker_cluster.test_failover import TOPIC, create_replicated_topic
from tests.broker_server.wire import WireClient
from tests.support.procs import ProcessGroup
from tests.support.waiting import wait_until

pytestmark = pytest.mark.cluster


def test_controlled_shutdown_preferred_leader_and_topic_deletion(procs: ProcessGroup, tmp_path: Path):
    c = start_cluster(procs, tmp_path, extra_config='"leader.imbalance.check.interval.seconds" = 1\n')
    try:
        create_replicated_topic(c)
        wait_until("a full ISR", lambda: len(c.state(TOPIC)["isr"]) == 3)
        before = c.state(TOPIC)
        preferred = before["leader"]  # a new topic starts on its preferred replica

        # SIGTERM: leadership moves before the process exits, not after its session expires
        assert procs.stop(f"broker{preferred}") == 0
        after = c.state(TOPIC)
        assert after["leader"] != preferred and after["leader_epoch"] > before["leader_epoch"], after
        assert preferred not in after["isr"]
        assert "controlled shutdown: leadership moved away" in procs.log_text(f"broker{preferred}")

        # back, in sync again: the controller hands leadership back to the preferred replica
        c.start_broker(preferred)
        wait_until("the preferred replica leading again", lambda: c.state(TOPIC)["leader"] == preferred)

        # deleting the topic removes its replica directory on every broker
        ctl = c.controller()[0]
        with WireClient(c.ports[ctl]) as w:
            answer = w.call(ApiKey.DELETE_TOPICS, m.DeleteTopicsRequest(topic_names=[TOPIC], timeout_ms=30000))
            assert answer.responses[0].error_code == 0, answer
        wait_until(
            "the replicas deleted everywhere", lambda: not any((c.data_dir(i) / f"{TOPIC}-0").exists() for i in c.ports)
        )
        for i in c.ports:
            assert "Traceback" not in procs.log_text(f"broker{i}"), procs.log_text(f"broker{i}")
    finally:
        c.close()
