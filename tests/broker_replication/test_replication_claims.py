"""The replication claims of kafka-reference.md section 4, each as a scenario on the core."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from broker.replication import ErrorCode, Replica
from broker.replication.messages import (
    ACKS_ALL,
    BecomeFollower,
    BecomeLeader,
    FetchRequest,
    IsrChangeResult,
    Produce,
    ProposeIsr,
    ReplyFetch,
    Tick,
)
from tests.broker_replication.memlog import MemoryLog
from tests.broker_replication.wire import Wire

A, B, C = 0, 1, 2


def cluster(ids=(A, B), leader=A, epoch=1, min_isr=1, lag_ms=1000) -> Wire:
    wire = Wire({i: Replica(i, MemoryLog(), min_insync_replicas=min_isr, replica_lag_time_max_ms=lag_ms) for i in ids})
    elect(wire, leader, epoch, frozenset(ids))
    return wire


def elect(wire: Wire, leader: int, epoch: int, isr: frozenset[int], version: int = 0) -> None:
    live = [i for i in wire.replicas if i not in wire.down]
    wire.step(leader, BecomeLeader(epoch, isr, tuple(sorted(wire.replicas)), version))
    for i in live:
        if i != leader:
            wire.step(i, BecomeFollower(leader, epoch))


def produce(wire: Wire, leader: int, rid: int, value: str, acks: int = ACKS_ALL) -> None:
    wire.step(leader, Produce(rid, (value,), acks, timeout_ms=10_000))


def fetch_round(wire: Wire, *followers: int) -> None:
    for f in followers:
        wire.step(f, Tick())


def one_fetch(wire: Wire, follower: int, *, lose_reply: bool = False) -> None:
    """One fetch round trip, nothing chained after it; optionally the reply is lost."""
    wire.now_ms += 600
    (send,) = wire.replicas[follower].step(Tick(), wire.now_ms)
    replies = wire.replicas[send.leader].step(send.request, wire.now_ms)
    wire.run(send.leader, [a for a in replies if not isinstance(a, ReplyFetch)])
    (reply,) = [a for a in replies if isinstance(a, ReplyFetch)]
    if not lose_reply:
        wire.replicas[follower].step(reply.response, wire.now_ms)


def values(replica: Replica) -> list[object]:
    return [r for _, (_, r) in sorted(replica.log.records().items())]


def test_kip101_scenario_1_acknowledged_write_survives_follower_restart() -> None:
    wire = cluster()
    produce(wire, A, 1, "m1")
    produce(wire, A, 2, "m2")
    wire.now_ms += 600
    one_fetch(wire, B)  # B copies m1, m2
    one_fetch(wire, B, lose_reply=True)  # tells A (HW reaches 2); B never hears the new HW
    assert wire.completed[2].error == ErrorCode.NONE
    assert wire.replicas[B].high_watermark < 2  # B learns the HW one fetch later
    # B restarts: its log survives, its HW is stale. HW truncation would drop m2 here.
    restarted = Replica(B, wire.replicas[B].log, high_watermark=wire.replicas[B].high_watermark)
    wire.replicas[B] = restarted
    (query,) = restarted.step(BecomeFollower(A, 1), wire.now_ms)
    (answer,) = wire.replicas[A].step(query.query, wire.now_ms)
    restarted.step(answer.answer, wire.now_ms)  # truncates; its next fetch is lost: A dies now
    assert values(restarted) == ["m1", "m2"]
    wire.down.add(A)
    elect(wire, B, 2, frozenset({B}))
    assert values(restarted) == ["m1", "m2"]  # the acknowledged m2 is still there


def test_kip101_scenario_2_logs_do_not_diverge_after_a_double_crash() -> None:
    wire = cluster()
    produce(wire, A, 1, "m1", acks=1)
    wire.now_ms += 600
    fetch_round(wire, B)
    produce(wire, A, 2, "m2", acks=1)  # only A has m2 when the power goes
    a_log, b_log = wire.replicas[A].log, wire.replicas[B].log
    wire.replicas = {A: Replica(A, a_log), B: Replica(B, b_log)}
    wire.down.add(A)
    elect(wire, B, 2, frozenset({B}))  # B comes back first and leads
    produce(wire, B, 3, "m3", acks=1)  # m3 lands at the offset where A holds m2
    wire.down.discard(A)
    wire.step(A, BecomeFollower(B, 2))
    assert values(wire.replicas[A]) == values(wire.replicas[B]) == ["m1", "m3"]
    assert wire.replicas[A].log.records() == wire.replicas[B].log.records()


def test_a_follower_truncates_to_the_leaders_end_offset_for_its_last_epoch() -> None:
    wire = cluster()
    for i in range(3):
        produce(wire, A, i, f"e1-{i}", acks=1)
    wire.now_ms += 600
    fetch_round(wire, B)
    wire.down.add(B)
    produce(wire, A, 9, "e1-unreplicated", acks=1)
    wire.down = {A}
    wire.replicas[A] = Replica(A, wire.replicas[A].log)
    elect(wire, B, 2, frozenset({B}))
    wire.down = set()
    wire.step(A, BecomeFollower(B, 2))
    assert values(wire.replicas[A]) == ["e1-0", "e1-1", "e1-2"]


def test_kip279_a_follower_walks_back_through_epochs_the_leader_never_had() -> None:
    wire = cluster(ids=(A, B, C))
    produce(wire, A, 1, "e1", acks=1)
    wire.now_ms += 600
    fetch_round(wire, B, C)
    # A leads epochs 2 and 3 alone, writing data B and C never see.
    wire.down = {B, C}
    elect(wire, A, 2, frozenset({A, B, C}))
    produce(wire, A, 2, "e2", acks=1)
    elect(wire, A, 3, frozenset({A, B, C}))
    produce(wire, A, 3, "e3", acks=1)
    # B leads epoch 4 (it only knows epoch 1) and writes; A must drop epochs 2 and 3.
    wire.down = {A}
    elect(wire, B, 4, frozenset({B, C}))
    produce(wire, B, 4, "e4", acks=1)
    wire.down = set()
    wire.step(A, BecomeFollower(B, 4))
    assert values(wire.replicas[A]) == ["e1", "e4"]
    assert wire.replicas[A].log.records() == wire.replicas[B].log.records()


def test_acks_all_completes_only_when_every_isr_member_has_the_offset() -> None:
    wire = cluster(ids=(A, B, C))
    produce(wire, A, 1, "x")
    wire.now_ms += 600
    fetch_round(wire, B)
    assert 1 not in wire.completed  # C has not fetched it yet
    fetch_round(wire, C)
    assert wire.completed[1].error == ErrorCode.NONE
    assert wire.replicas[A].high_watermark == 1


def test_min_isr_refuses_writes_when_the_isr_is_too_small() -> None:
    wire = cluster(ids=(A, B, C), min_isr=2)
    wire.down = {B, C}
    wire.now_ms += 2000
    wire.step(A, Tick())  # B and C lag past replica_lag_time_max_ms
    assert wire.proposals[-1].isr == frozenset({A})
    produce(wire, A, 7, "refused")
    assert wire.completed[7].error == ErrorCode.NOT_ENOUGH_REPLICAS
    assert wire.replicas[A].log.log_end_offset == 0


def test_isr_shrinking_below_min_isr_while_waiting_gives_after_append() -> None:
    wire = cluster(ids=(A, B, C), min_isr=2)
    wire.down = {B, C}
    produce(wire, A, 1, "appended")
    wire.now_ms += 2000
    wire.step(A, Tick())
    assert wire.completed[1].error == ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND
    assert values(wire.replicas[A]) == ["appended"]


def test_the_isr_changes_only_when_the_conditional_write_is_confirmed() -> None:
    wire = cluster(ids=(A, B, C))
    wire.down = {B, C}
    wire.now_ms += 2000
    wire.step(A, Tick(), accept_isr=False)
    leader = wire.replicas[A]
    assert leader.role.isr == frozenset({A, B, C})
    wire.step(A, IsrChangeResult(wire.proposals[-1], False, 0))
    assert leader.role.isr == frozenset({A, B, C})


def test_a_zombie_leader_with_an_old_epoch_cannot_get_acks_all_writes_acknowledged() -> None:
    wire = cluster(ids=(A, B, C))
    wire.down = {A}  # A is cut off, the controller moves on
    elect(wire, B, 2, frozenset({B, C}), version=1)
    wire.down = set()
    produce(wire, A, 1, "zombie")  # A still believes it leads epoch 1
    wire.now_ms += 2000
    for _ in range(3):
        fetch_round(wire, B, C)
        wire.step(A, Tick(), accept_isr=False)  # its ISR write is refused: stale version
        wire.step(A, IsrChangeResult(wire.proposals[-1], False, 1))
        wire.now_ms += 600
    wire.step(A, FetchRequest(C, 2, 0))  # followers of epoch 2 are not counted by A
    wire.now_ms += 20_000
    wire.step(A, Tick(), accept_isr=False)
    assert wire.completed[1].error == ErrorCode.REQUEST_TIMED_OUT


def test_a_fetch_from_a_stale_epoch_is_fenced_and_not_counted() -> None:
    wire = cluster(ids=(A, B), epoch=3)
    produce(wire, A, 1, "x")
    out = wire.replicas[A].step(FetchRequest(B, 2, 1), wire.now_ms)
    assert out[0].response.error == ErrorCode.FENCED_LEADER_EPOCH
    assert 1 not in wire.completed and wire.replicas[A].high_watermark == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["produce", "fetchB", "fetchC", "tick", "isr"]), st.integers(0, 5)), max_size=40)
)
def test_hw_never_goes_backwards_on_a_leader(steps: list[tuple[str, int]]) -> None:
    leader = Replica(A, MemoryLog(), replica_lag_time_max_ms=100)
    leader.step(BecomeLeader(1, frozenset({A, B, C}), (A, B, C), 0), 0)
    now, last_hw = 0, 0
    for kind, n in steps:
        now += 40
        leo = leader.log.log_end_offset
        if kind == "produce":
            leader.step(Produce(now, ("v",) * (n + 1), ACKS_ALL, 1000), now)
        elif kind in ("fetchB", "fetchC"):
            leader.step(FetchRequest(B if kind == "fetchB" else C, 1, min(n, leo)), now)
        elif kind == "tick":
            leader.step(Tick(), now)
        else:
            proposed = leader.role.proposed
            if proposed is not None:
                leader.step(IsrChangeResult(proposed, n % 2 == 0, leader.role.version + 1), now)
        assert leader.high_watermark >= last_hw
        assert leader.high_watermark <= leader.log.log_end_offset
        last_hw = leader.high_watermark


def test_a_late_answer_to_an_earlier_isr_proposal_is_not_taken_for_the_current_one() -> None:
    wire = cluster(ids=(A, B, C))
    wire.down = {B, C}
    wire.now_ms += 2000
    wire.step(A, Tick(), accept_isr=False)
    first = wire.proposals[-1]
    wire.step(A, IsrChangeResult(first, False, 0))  # refused: the controller moved on
    wire.now_ms += 2000
    wire.step(A, Tick(), accept_isr=False)  # the same ISR proposed again
    wire.step(A, IsrChangeResult(ProposeIsr(first.isr, 1, 7), True, 8))  # not this one's answer
    assert wire.replicas[A].role.isr == frozenset({A, B, C})
