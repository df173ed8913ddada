"""The replication core over real PartitionLogs: the adapter (`replica_log.py`) and the
`Partition` shell (produce purgatory, follower fetches, ISR proposals, truncation)."""

from __future__ import annotations

import asyncio
import time

from broker.log import LogConfig, PartitionLog
from broker.replication.messages import ErrorCode, FetchResponse, ProposeIsr, SendEpochQuery, SendFetch
from broker.server.partition import FOLLOWER_RETRY_MS, Partition
from broker.server.replica_log import PartitionReplicaLog, split_batches
from client.protocol.api import ACKS_ALL
from client.protocol.record_batch import build_batch


def batch(*values: bytes) -> bytes:
    return build_batch([(None, v, None, 1) for v in values])


def open_log(tmp_path, name: str = "t-0") -> PartitionLog:
    return PartitionLog.open(tmp_path / name, LogConfig())


def make(tmp_path, broker_id: int, name: str = "t-0", *, min_isr: int = 1, lag_ms: int = 30_000):
    proposals: list[ProposeIsr] = []
    part = Partition(
        "t",
        0,
        broker_id,
        open_log(tmp_path, name),
        broker_epoch=7,
        high_watermark=0,
        min_insync_replicas=min_isr,
        replica_lag_time_max_ms=lag_ms,
        propose_isr=lambda _p, proposal: proposals.append(proposal),
        on_change=lambda: None,
    )
    return part, proposals


def lead(part: Partition, epoch: int, isr: list[int], version: int = 0) -> None:
    part.become(
        leader=part.broker_id,
        leader_epoch=epoch,
        isr=isr,
        replicas=[1, 2],
        zk_version=version,
        broker_epoch=7,
        controller_epoch=1,
    )


def follow(part: Partition, leader: int, epoch: int) -> None:
    part.become(
        leader=leader, leader_epoch=epoch, isr=[1, 2], replicas=[1, 2], zk_version=0, broker_epoch=7, controller_epoch=1
    )


def pair(tmp_path) -> tuple[Partition, Partition]:
    """Broker 1 leading epoch 1 with ISR {1, 2}; broker 2 following it."""
    leader, _ = make(tmp_path, 1, "one")
    follower, _ = make(tmp_path, 2, "two")
    lead(leader, 1, [1, 2])
    follow(follower, 1, 1)
    return leader, follower


def copy_once(leader: Partition, follower: Partition) -> None:
    """One round of what the fetcher does, in-process: tick the core, take the request it
    asks to send, and give it the leader's answer."""
    follower.tick()
    sent = follower.take_request(leader.broker_id)
    if isinstance(sent, SendEpochQuery):
        query = sent.query
        follower.step(leader.epoch_query(follower.broker_id, query.leader_epoch, query.epoch))
        return
    assert isinstance(sent, SendFetch)
    req = sent.request
    answer = leader.follower_fetch(follower.broker_id, req.leader_epoch, req.fetch_offset)
    data = b""
    if req.fetch_offset < leader.log.log_end_offset:
        with leader.log.read(req.fetch_offset, 1 << 20) as piece:
            data = piece.read_bytes()
    follower.step(
        FetchResponse(
            answer.leader_epoch, req.fetch_offset, tuple(split_batches(data)), answer.high_watermark, answer.error
        )
    )


# -- the adapter ------------------------------------------------------------------------------


def test_adapter_appends_reads_and_answers_epoch_queries_by_the_core_contract(tmp_path):
    plog = open_log(tmp_path)
    rlog = PartitionReplicaLog(plog)
    try:
        assert rlog.end_offset_for(3) == (-1, -1) and rlog.latest_epoch is None
        rlog.assign_epoch(2, 0)
        first = rlog.append_as_leader((batch(b"a", b"b") + batch(b"c"),), 2)
        assert (first.base_offset, first.last_offset, first.epoch) == (0, 2, 2)
        rlog.assign_epoch(5, 3)
        rlog.append_as_leader((batch(b"d"),), 5)
        assert rlog.latest_epoch == 5 and rlog.log_end_offset == 4
        # LeaderEpochCache answers Kafka's way below its first epoch ((1, 0) here); the core
        # expects "none known" there, and (latest, LEO) above the latest.
        assert plog.leader_epochs.end_offset_for(1) == (1, 0)
        assert rlog.end_offset_for(1) == (-1, -1)
        assert rlog.end_offset_for(3) == (2, 3)
        assert rlog.end_offset_for(9) == (5, 4)
        read = rlog.read(1, 10)
        assert [(b.base_offset, b.last_offset, b.epoch) for b in read] == [(0, 1, 2), (2, 2, 2), (3, 3, 5)]
        assert rlog.read(0, 0) == ()
        other = PartitionReplicaLog(open_log(tmp_path, "copy"))
        other.append_as_follower(read)
        assert other.log_end_offset == 4 and other.end_offset_for(3) == (2, 3) and other.latest_epoch == 5
        other.truncate_to(2)
        assert other.log_end_offset == 2 and other.latest_epoch == 2
        other.log.close()
    finally:
        plog.close()


# -- the shell --------------------------------------------------------------------------------


async def test_acks_all_completes_when_the_follower_has_copied_and_consumers_see_only_below_hw(tmp_path):
    leader, follower = pair(tmp_path)
    try:
        fut = leader.produce(batch(b"x", b"y"), ACKS_ALL, 5000)
        assert not fut.done() and leader.high_watermark == 0
        for _ in range(4):
            copy_once(leader, follower)
        result = await asyncio.wait_for(fut, 1)
        assert (result.error, result.base_offset) == (ErrorCode.NONE, 0)
        assert leader.high_watermark == 2 == follower.high_watermark
        assert follower.log.log_end_offset == 2 and follower.log.leader_epochs.latest_epoch == 1
        # a follower still on an old epoch is fenced and not counted
        stale = leader.follower_fetch(2, 0, 2)
        assert stale.error == ErrorCode.FENCED_LEADER_EPOCH
    finally:
        leader.log.close()
        follower.log.close()


async def test_min_insync_replicas_refuses_acks_all_with_a_clear_message(tmp_path):
    part, _ = make(tmp_path, 1, min_isr=2)
    try:
        lead(part, 0, [1])
        result = await part.produce(batch(b"x"), ACKS_ALL, 1000)
        assert result.error == ErrorCode.NOT_ENOUGH_REPLICAS and "min.insync.replicas=2" in result.message
        assert part.log.log_end_offset == 0  # nothing written
        ok = await part.produce(batch(b"x"), 1, 1000)  # acks=1 still works
        assert ok.error == ErrorCode.NONE and part.high_watermark == 1
    finally:
        part.log.close()


async def test_a_silent_follower_is_proposed_out_of_the_isr_and_resigning_answers_waiters(tmp_path):
    part, proposals = make(tmp_path, 1, lag_ms=10)
    try:
        lead(part, 3, [1, 2])
        fut = part.produce(batch(b"x"), ACKS_ALL, 60_000)
        time.sleep(0.05)  # noqa: ASYNC251 - the lag clock passes 10 ms with the loop held still
        part.tick()
        assert proposals == [ProposeIsr(frozenset({1}), 3, 0)]
        follow(part, 2, 4)  # the controller moved leadership away
        result = await asyncio.wait_for(fut, 1)
        assert result.error == ErrorCode.NOT_LEADER_OR_FOLLOWER
    finally:
        part.log.close()


async def test_a_follower_truncates_its_divergent_tail_by_leader_epoch(tmp_path):
    old, new = pair(tmp_path)
    try:
        await old.produce(batch(b"m1"), 1, 1000)
        for _ in range(3):
            copy_once(old, new)
        await old.produce(batch(b"m2-lost"), 1, 1000)  # only on the old leader
        lead(new, 2, [2])  # old leader "died"; new leads epoch 2
        await new.produce(batch(b"m3"), 1, 1000)
        follow(old, 2, 2)  # old comes back as follower
        for _ in range(4):
            copy_once(new, old)
        with old.log.read(0, 1 << 20) as a, new.log.read(0, 1 << 20) as b:
            assert a.read_bytes() == b.read_bytes()
        assert old.log.log_end_offset == 2
    finally:
        old.log.close()
        new.log.close()


async def test_a_leaders_answer_arriving_after_stop_replica_is_dropped(tmp_path):
    """Topic deletion closes the follower's log while its OffsetsForLeaderEpoch request is
    out; the answer (which asks for a truncation) must not touch the closed log."""
    leader, follower = pair(tmp_path)
    leader.produce(batch(b"a"), 1, 1000)
    copy_once(leader, follower)
    lead(leader, 2, [1, 2])
    follow(follower, 1, 2)
    sent = follower.take_request(1)
    assert isinstance(sent, SendEpochQuery)
    query = sent.query
    answer = leader.epoch_query(follower.broker_id, query.leader_epoch, query.epoch)
    follower.stop()
    follower.log.close()
    assert follower.step(answer) == []


def test_the_core_s_requests_wait_in_the_outbox_and_a_refused_one_is_resent_by_its_tick(tmp_path):
    """The fetcher sends only what the core asks for: a request is handed out once, only to
    its leader; a refused answer is ignored, and the core's own retry sends it again."""
    leader, follower = pair(tmp_path)
    try:
        assert follower.take_request(3) is None
        sent = follower.take_request(1)
        assert isinstance(sent, SendFetch) and sent.request.fetch_offset == 0
        assert follower.take_request(1) is None
        follower.step(FetchResponse(-1, 0, (), -1, ErrorCode.UNKNOWN_LEADER_EPOCH))
        follower.tick()
        assert follower.take_request(1) is None  # not overdue yet
        time.sleep(FOLLOWER_RETRY_MS / 1000 + 0.02)  # the subject: the retry back-off elapsing
        follower.tick()
        assert follower.take_request(1) == sent
        assert leader.take_request(1) is None  # a leader asks nothing
    finally:
        leader.log.close()
        follower.log.close()
