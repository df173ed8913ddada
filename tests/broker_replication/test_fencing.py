"""Leader-epoch fencing: one rule, and the core and the handlers both answer by it."""

from __future__ import annotations

import pytest

from broker.replication import ErrorCode, Replica
from broker.replication.fencing import epoch_refusal
from broker.replication.messages import BecomeFollower, BecomeLeader, EpochQuery, FetchRequest
from tests.broker_replication.memlog import MemoryLog


@pytest.mark.parametrize(
    ("expected", "leading", "code"),
    [
        (4, True, ErrorCode.FENCED_LEADER_EPOCH),
        (6, True, ErrorCode.UNKNOWN_LEADER_EPOCH),
        (5, True, None),
        (None, True, None),
        (4, False, ErrorCode.FENCED_LEADER_EPOCH),
        (6, False, ErrorCode.UNKNOWN_LEADER_EPOCH),
        (5, False, ErrorCode.NOT_LEADER_OR_FOLLOWER),
        (None, False, ErrorCode.NOT_LEADER_OR_FOLLOWER),
    ],
)
def test_the_rule_at_epoch_5(expected: int | None, leading: bool, code: ErrorCode | None) -> None:
    assert epoch_refusal(expected, 5, leading=leading) == code


@pytest.mark.parametrize("leading", [True, False])
@pytest.mark.parametrize("asked", [4, 5, 6])
def test_the_core_refuses_fetches_and_epoch_queries_by_the_rule(leading: bool, asked: int) -> None:
    replica = Replica(0, MemoryLog())
    order = BecomeLeader(5, frozenset({0, 1}), (0, 1), 0) if leading else BecomeFollower(1, 5)
    replica.step(order, 0)
    want = epoch_refusal(asked, 5, leading=leading) or ErrorCode.NONE
    fetch = [a for a in replica.step(FetchRequest(1, asked, 0), 0) if hasattr(a, "response")]
    query = [a for a in replica.step(EpochQuery(1, asked, 5), 0) if hasattr(a, "answer")]
    assert [a.response.error for a in fetch] == [want]
    assert [a.answer.error for a in query] == [want]
