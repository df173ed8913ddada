"""The replica fetcher applies a leader's answer only to the replica that asked: a
partition stopped (topic deleted: its log closed) or re-ordered while the request was
out must not receive it. Found by the controlled-shutdown/topic-deletion cluster test,
where an epoch answer landing after StopReplica truncated a closed log."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from broker.config import BrokerConfig
from broker.replication.messages import EpochQuery, ErrorCode, FetchResponse
from broker.server.fetcher import FetcherManager, _Fetcher
from broker.server.partition import Partition
from broker.server.replica_log import split_batches
from client.protocol.record_batch import build_batch
from tests.broker_server.test_partition import follow, make


class Replicas:
    """What the fetcher reads of the replica manager."""

    def __init__(self, part: Partition) -> None:
        self.partitions = {(part.topic, part.partition): part}
        self.on_followers_changed = lambda: None

    def following(self, leader: int) -> list[Partition]:
        return []   # the fetcher's own loop stays idle; the test drives one round by hand

    def followed_leaders(self) -> set[int]:
        return set()


class SlowLeader:
    """A connection whose answer arrives only after `stopped` is set."""

    def __init__(self, answer: dict, stopped: asyncio.Event, tail: bytes) -> None:
        self.answer, self.stopped, self.tail = answer, stopped, tail

    async def request(self, api_key, body):
        await self.stopped.wait()
        return SimpleNamespace(body=self.answer, tail=self.tail)


def copied_batch(part: Partition, epoch: int) -> bytes:
    """A batch as a leader of `epoch` serves it, taken into the follower `part` once."""
    data = build_batch([(None, b"x", None, 1)], base_offset=part.log.log_end_offset, partition_leader_epoch=epoch)
    req = part.follower_request()
    part.step(FetchResponse(epoch, req.fetch_offset, tuple(split_batches(data)), 0, ErrorCode.NONE))
    return data


@pytest.mark.parametrize("path", ["fetch", "epoch query"])
async def test_an_answer_for_a_replica_stopped_meanwhile_is_dropped(tmp_path, path):
    part, _ = make(tmp_path, 2, "two")
    follow(part, 1, 1)
    copied_batch(part, 1)                 # one record at epoch 1, above the high watermark
    if path == "epoch query":
        follow(part, 1, 3)                # a new leader epoch: the follower must ask where epoch 1 ends
    request = part.follower_request()
    assert isinstance(request, EpochQuery) == (path == "epoch query"), request
    replicas = Replicas(part)
    manager = FetcherManager(BrokerConfig(broker_id=2), SimpleNamespace(brokers={}), replicas)
    fetcher = _Fetcher(manager, 1)
    stopped = asyncio.Event()
    data = build_batch([(None, b"y", None, 1)], base_offset=1, partition_leader_epoch=1)
    entry = {"topic": "t", "partition": 0, "error": 0, "current_leader_epoch": 3, "leader_epoch": -1,
             "end_offset": -1, "high_watermark": 0, "records_size": len(data)}
    leader = SlowLeader({"partitions": [entry]}, stopped, data)
    if path == "epoch query":
        round_trip = asyncio.ensure_future(fetcher._ask_epochs(leader, [(part, request)]))
    else:
        round_trip = asyncio.ensure_future(fetcher._fetch(leader, [part]))
    await asyncio.sleep(0)
    del replicas.partitions[("t", 0)]     # StopReplica(delete) while the request is out
    part.log.close()
    stopped.set()
    await asyncio.wait_for(round_trip, 10)   # before the fix: LogError "the log is closed"
    await manager.close()
