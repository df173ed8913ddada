"""A Metadata request that may create a missing topic creates it whichever broker it
reaches: a broker that is not the controller asks the controller (real processes)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from client.protocol.errors import ErrorCode
from tests.broker_cluster.test_controller_election import start_cluster
from tests.broker_server.wire import WireClient, metadata
from tests.support.procs import ProcessGroup

pytestmark = pytest.mark.cluster


def test_a_broker_that_is_not_the_controller_has_the_controller_create_the_topic(
    procs: ProcessGroup, tmp_path: Path
) -> None:
    _, ports = start_cluster(procs, tmp_path, 2)
    deadline = time.monotonic() + 30
    with WireClient(ports[0]) as c:
        while (controller := metadata(c, []).controller_id) < 0 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert controller in (1, 2)
    other = ports[0] if controller == 2 else ports[1]  # broker i listens on ports[i - 1]
    answers = []
    with WireClient(other) as c:
        for _ in range(100):  # bounded: 100 tries, 0.1 s apart
            topic = metadata(c, ["made-by-asking"], auto_create=True).topics[0]
            answers.append(ErrorCode(topic.error_code))
            if topic.error_code == 0:
                break
            time.sleep(0.1)
    assert answers[-1] == ErrorCode.NONE, answers
    assert set(answers[:-1]) <= {ErrorCode.LEADER_NOT_AVAILABLE}, answers
    assert [p.partition_index for p in topic.partitions] == [0]  # num.partitions, Kafka's default 1
