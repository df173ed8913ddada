"""Leader elections as pure functions: preferred replica first, epoch bumps, the ISR never
empties, unclean only when allowed, controlled shutdown and preferred-leader moves."""

from __future__ import annotations

from broker.metadata.election import offline_election, preferred_election, shutdown_election
from broker.metadata.znodes import PartitionState

REPLICAS = [1, 2, 3]


def st(leader: int, epoch: int, isr: tuple[int, ...]) -> PartitionState:
    return PartitionState(leader, epoch, isr, 1)


def test_a_dead_leader_is_replaced_by_the_first_live_isr_replica_at_a_higher_epoch():
    new = offline_election(REPLICAS, st(1, 4, (1, 2, 3)), {2, 3}, 9)
    assert (new.leader, new.leader_epoch, new.isr, new.controller_epoch) == (2, 5, (2, 3), 9)


def test_a_dead_follower_only_leaves_the_isr_and_the_epoch_stays():
    new = offline_election(REPLICAS, st(1, 4, (1, 2, 3)), {1, 2}, 9)
    assert (new.leader, new.leader_epoch, new.isr) == (1, 4, (1, 2))
    assert offline_election(REPLICAS, st(1, 4, (1, 2)), {1, 2}, 9) is None


def test_no_live_isr_member_goes_offline_keeping_the_isr_unless_unclean_is_allowed():
    offline = offline_election(REPLICAS, st(1, 4, (1,)), {2, 3}, 9)
    assert (offline.leader, offline.leader_epoch, offline.isr) == (-1, 5, (1,))
    assert offline_election(REPLICAS, offline, {2, 3}, 9) is None  # stays offline
    back = offline_election(REPLICAS, offline, {1, 2, 3}, 9)  # its last ISR member returns
    assert (back.leader, back.isr) == (1, (1,))
    unclean = offline_election(REPLICAS, st(1, 4, (1,)), {3}, 9, unclean=True)
    assert (unclean.leader, unclean.isr) == (3, (3,))


def test_controlled_shutdown_moves_leadership_unless_it_is_the_last_isr_member():
    moved = shutdown_election(REPLICAS, st(1, 4, (1, 2, 3)), {2, 3}, 1, 9)
    assert (moved.leader, moved.leader_epoch, moved.isr) == (2, 5, (2, 3))
    follower = shutdown_election(REPLICAS, st(1, 4, (1, 2, 3)), {1, 2}, 3, 9)
    assert (follower.leader, follower.leader_epoch, follower.isr) == (1, 4, (1, 2))
    assert shutdown_election(REPLICAS, st(1, 4, (1,)), {2, 3}, 1, 9) is None


def test_preferred_replica_gets_leadership_back_only_when_in_sync():
    assert preferred_election(REPLICAS, st(2, 5, (2, 3)), {1, 2, 3}, 9) is None  # 1 not in the ISR yet
    back = preferred_election(REPLICAS, st(2, 5, (1, 2, 3)), {1, 2, 3}, 9)
    assert (back.leader, back.leader_epoch) == (1, 6)
    assert preferred_election(REPLICAS, st(1, 6, (1, 2, 3)), {1, 2, 3}, 9) is None
