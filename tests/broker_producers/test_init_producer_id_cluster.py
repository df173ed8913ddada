"""Two broker processes on one coord hand out producer ids from different blocks, and a
broker that restarts claims a new block rather than reusing its old one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from broker.producers.id_block import BLOCK_SIZE, ZNODE
from client.protocol import messages as m
from client.protocol.api import ApiKey
from tests.broker_cluster.test_controller_election import start_cluster
from tests.broker_server.wire import WireClient
from tests.support.procs import ProcessGroup, wait_for_port

pytestmark = pytest.mark.cluster

INIT = m.InitProducerIdRequest(transactional_id=None, producer_id=-1, producer_epoch=-1)


def init(port: int) -> int:
    with WireClient(port) as c:
        answer = c.call(ApiKey.INIT_PRODUCER_ID, INIT)
    assert answer.error_code == 0, answer
    return answer.producer_id


def test_brokers_allocate_from_distinct_blocks_and_never_reuse_one(procs: ProcessGroup, tmp_path: Path) -> None:
    coord_port, ports = start_cluster(procs, tmp_path, 2)
    first = [init(ports[0]), init(ports[0]), init(ports[1]), init(ports[1])]
    assert len(set(first)) == 4
    blocks = {pid // BLOCK_SIZE for pid in first}
    assert len(blocks) == 2  # one block per broker
    procs.kill("broker1")
    procs.start(
        "broker1b",
        "broker",
        "start",
        "--id",
        "1",
        "--data-dir",
        str(tmp_path / "b1"),
        "--port",
        str(ports[0]),
        "--coord",
        f"127.0.0.1:{coord_port}",
        "--config",
        str(tmp_path / "broker1.toml"),
    )
    wait_for_port(ports[0], timeout=30)
    again = init(ports[0])
    assert again // BLOCK_SIZE not in blocks  # a fresh block after the restart
    zk = KazooClient(hosts=f"127.0.0.1:{coord_port}")
    zk.start(timeout=10)
    try:
        doc = json.loads(zk.get(ZNODE)[0])
    finally:
        zk.stop()
        zk.close()
    assert (doc["broker"], int(doc["block_start"])) == (1, again // BLOCK_SIZE * BLOCK_SIZE)
