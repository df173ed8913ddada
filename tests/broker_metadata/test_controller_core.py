"""The controller core's transitions, event by event, with no coord and no sockets.

Each test feeds `ControllerCore.step` the events a shell would and reads the actions it
returns: what it writes (conditionally, at which versions), whom it tells what, how it
answers, and what it refuses once deposed.
"""

from __future__ import annotations

from broker.metadata import controller_actions as A
from broker.metadata import controller_events as E
from broker.metadata.controller_core import ControllerCore
from broker.metadata.requested_election import PREFERRED
from broker.metadata.znodes import PartitionState
from client.protocol.errors import ErrorCode

ME = 1
EPOCH, EPOCH_VERSION = 3, 2


def of(actions: list[A.Action], kind: type) -> list:
    return [a for a in actions if isinstance(a, kind)]


def controller(
    *,
    brokers: dict[int, int] | None = None,
    states: dict[int, PartitionState] | None = None,
    configs: dict[str, str] | None = None,
) -> ControllerCore:
    """Broker 1 as controller of topic t (partitions 0 and 1 on brokers 1, 2, 3) after its
    takeover wrote nothing (everyone registered and leading)."""
    core = ControllerCore(ME)
    core.step(E.BrokersChanged(brokers or {1: 10, 2: 20, 3: 30}))
    core.step(
        E.TopicLoaded(
            E.TopicView(
                "t",
                {0: (1, 2, 3), 1: (2, 3, 1)},
                configs or {},
                states or {0: PartitionState(1, 5, (1, 2, 3), 2, 7), 1: PartitionState(2, 4, (2, 3, 1), 2, 9)},
            )
        )
    )
    assert core.step(E.ControllerVacant()) == [A.ContendForController()]
    core.step(E.EpochWon(EPOCH, EPOCH_VERSION))
    return core


def test_takeover_elects_for_the_dead_and_tells_every_live_broker_everything() -> None:
    core = ControllerCore(ME)
    core.step(E.BrokersChanged({1: 10, 3: 30}))  # broker 2, partition 1's leader, is gone
    core.step(
        E.TopicLoaded(
            E.TopicView(
                "t",
                {0: (1, 2, 3), 1: (2, 3, 1)},
                {},
                {0: PartitionState(1, 5, (1, 2, 3), 2, 7), 1: PartitionState(2, 4, (2, 3, 1), 2, 9)},
            )
        )
    )
    core.step(E.ControllerVacant())
    out = core.step(E.EpochWon(EPOCH, EPOCH_VERSION, request_id=5))
    [write] = of(out, A.WriteStates)
    assert write.epoch_zk_version == EPOCH_VERSION
    assert write.writes == (
        A.StateWrite("t", 0, 7, PartitionState(1, 5, (1, 3), EPOCH)),
        A.StateWrite("t", 1, 9, PartitionState(3, 5, (3, 1), EPOCH)),
    )
    out = core.step(E.WriteDone(write.write_id, (8, 10)))
    assert {a.broker for a in of(out, A.SendLeaderAndIsr)} == {1, 3}
    assert {a.broker for a in of(out, A.SendUpdateMetadata)} == {1, 3}
    sent = of(out, A.SendLeaderAndIsr)[0]
    assert sent.to.controller_epoch == EPOCH and sent.to.broker_epoch == 10
    assert [v.state.zk_version for v in sent.partitions] == [8, 10]
    assert of(out, A.Reply) == [A.Reply(5, None, frozenset({ME}))]
    assert core.leader_elections == 1


def test_a_dead_brokers_leadership_moves_inside_the_isr_and_its_queue_is_dropped() -> None:
    core = controller()
    out = core.step(E.BrokersChanged({1: 10, 3: 30}))
    assert A.ForgetBroker(2) in out
    [write] = of(out, A.WriteStates)
    assert [(w.partition, w.state.leader, w.state.isr) for w in write.writes] == [(0, 1, (1, 3)), (1, 3, (3, 1))]
    out = core.step(E.WriteDone(write.write_id, (8, 10)))
    assert {a.broker for a in of(out, A.SendLeaderAndIsr)} == {1, 3}


def test_a_restarted_broker_is_gone_and_joined_and_does_not_keep_its_old_leadership() -> None:
    core = controller()
    out = core.step(E.BrokersChanged({1: 10, 2: 21, 3: 30}))  # broker 2 re-registered
    [write] = of(out, A.WriteStates)
    assert [(w.partition, w.state.leader, w.state.isr) for w in write.writes] == [(0, 1, (1, 3)), (1, 3, (3, 1))]
    out = core.step(E.WriteDone(write.write_id, (8, 10)))
    assert not of(out, A.WriteStates)  # the joined pass elects nothing: it only tells broker 2
    [told] = [a for a in of(out, A.SendLeaderAndIsr) if a.broker == 2]
    assert told.to.broker_epoch == 21
    assert [(v.partition, v.state.leader) for v in told.partitions] == [(0, 1), (1, 3)]
    assert core.known == {1: 10, 2: 21, 3: 30}


def test_no_leader_from_outside_the_isr_unless_the_topic_allows_unclean_election() -> None:
    states = {0: PartitionState(2, 5, (2,), 2, 7), 1: PartitionState(3, 4, (3, 1), 2, 9)}
    core = controller(states=states)
    [write] = of(core.step(E.BrokersChanged({1: 10, 3: 30})), A.WriteStates)
    assert write.writes[0].state == PartitionState(-1, 6, (2,), EPOCH)  # offline, keeps its last ISR
    core = controller(states=states, configs={"unclean.leader.election.enable": "true"})
    [write] = of(core.step(E.BrokersChanged({1: 10, 3: 30})), A.WriteStates)
    assert write.writes[0].state == PartitionState(1, 6, (1,), EPOCH)


def test_a_version_conflict_rereads_and_decides_again_at_the_new_version() -> None:
    core = controller()
    [write] = of(core.step(E.BrokersChanged({1: 10, 3: 30})), A.WriteStates)
    [reload] = of(core.step(E.WriteFailed(write.write_id, E.Failure.CONFLICT)), A.Reload)
    assert reload.topics == ("t",)
    core.step(
        E.TopicLoaded(
            E.TopicView(
                "t",
                {0: (1, 2, 3), 1: (2, 3, 1)},
                {},
                {0: PartitionState(1, 5, (1, 3), 2, 8), 1: PartitionState(2, 4, (2, 3, 1), 2, 9)},
            )
        )
    )
    [again] = of(core.step(E.Reloaded(reload.token)), A.WriteStates)
    assert [(w.partition, w.expected_version) for w in again.writes] == [(1, 9)]  # partition 0 is done


def test_a_fenced_write_deposes_the_controller_and_refuses_what_it_held() -> None:
    core = controller()
    [write] = of(core.step(E.BrokersChanged({1: 10, 3: 30})), A.WriteStates)
    assert core.step(E.ElectLeaders(7, PREFERRED, None)) == []  # queued behind the write
    out = core.step(E.WriteFailed(write.write_id, E.Failure.FENCED))
    assert not core.active
    assert of(out, A.Reply)[0].request_id == 7 and of(out, A.Reply)[0].answer[0] == ErrorCode.NOT_CONTROLLER
    assert not of(out, A.SendLeaderAndIsr) and not of(out, A.WriteStates)
    [reply] = of(core.step(E.CreateTopic(8, "u", 1, 1, {})), A.Reply)
    assert reply.answer[0] == ErrorCode.NOT_CONTROLLER


def test_a_late_answer_to_an_abandoned_write_is_ignored() -> None:
    core = controller()
    [write] = of(core.step(E.BrokersChanged({1: 10, 3: 30})), A.WriteStates)
    core.step(E.EpochLost())
    assert core.step(E.WriteDone(write.write_id, (8, 10))) == []
    assert core.topics["t"].states[0].zk_version == 7


def test_controlled_shutdown_checks_the_broker_epoch_then_moves_leadership_away() -> None:
    core = controller()
    [reply] = of(core.step(E.ControlledShutdown(4, 1, 99)), A.Reply)
    assert reply.answer[0] == ErrorCode.STALE_BROKER_EPOCH
    [write] = of(core.step(E.ControlledShutdown(5, 2, 20)), A.WriteStates)
    assert [(w.partition, w.state.leader, w.state.isr) for w in write.writes] == [(0, 1, (1, 3)), (1, 3, (3, 1))]
    out = core.step(E.WriteDone(write.write_id, (8, 10)))
    assert 2 in {a.broker for a in of(out, A.SendLeaderAndIsr)}  # the leaving broker is told too
    [reply] = of(out, A.Reply)
    assert reply.answer == (None, []) and 2 in reply.settle


def test_create_topic_writes_at_the_won_epoch_version_with_the_given_assignment() -> None:
    core = controller()
    [create] = of(
        core.step(E.CreateTopic(3, "u", 2, 2, {"retention.ms": 5}, assignment={0: [3, 1], 1: [1, 3]})),
        A.CreateTopicZnodes,
    )
    assert create.epoch_zk_version == EPOCH_VERSION
    assert create.assignment == {0: (3, 1), 1: (1, 3)} and create.configs == {"retention.ms": "5"}
    assert create.states[0] == PartitionState(3, 0, (3, 1), EPOCH)
    out = core.step(E.WriteDone(create.write_id))
    assert {a.broker for a in of(out, A.SendLeaderAndIsr)} == {1, 3}
    assert of(out, A.Reply)[0].answer is None
    [reply] = of(core.step(E.CreateTopic(4, "u", 1, 1, {})), A.Reply)
    assert reply.answer[0] == ErrorCode.TOPIC_ALREADY_EXISTS


def test_create_topic_that_coord_already_has_is_refused_as_existing() -> None:
    core = controller()
    [create] = of(core.step(E.CreateTopic(3, "u", 1, 1, {})), A.CreateTopicZnodes)
    [reply] = of(core.step(E.WriteFailed(create.write_id, E.Failure.EXISTS)), A.Reply)
    assert reply.answer[0] == ErrorCode.TOPIC_ALREADY_EXISTS and core.active


def test_create_partitions_continues_the_assignment_and_writes_the_new_states() -> None:
    core = controller()
    [add] = of(core.step(E.CreatePartitions(3, "t", 3)), A.AddPartitionZnodes)
    assert add.epoch_zk_version == EPOCH_VERSION and sorted(add.added) == [2]
    assert add.assignment[0] == (1, 2, 3) and len(add.assignment[2]) == 3
    out = core.step(E.WriteDone(add.write_id))
    assert of(out, A.Reply)[0].answer is None and 2 in core.topics["t"].assignment


def test_delete_topic_stops_the_replicas_before_the_znodes_go() -> None:
    core = controller()
    out = core.step(E.DeleteTopic(3, "t"))
    kinds = [type(a) for a in out if not isinstance(a, A.Note)]
    assert kinds == [A.SendStopReplica] * 3 + [A.DeleteTopicZnodes, A.Reply]
    assert "t" not in core.topics


def test_requests_to_a_standby_are_refused_at_once_naming_the_controller() -> None:
    core = ControllerCore(ME)
    core.step(E.RaceLost(2))
    [reply] = core.step(E.ElectLeaders(1, PREFERRED, None))
    assert reply.answer == (ErrorCode.NOT_CONTROLLER, "broker 1 is not the controller (broker 2 is)")


def test_preferred_election_only_where_the_preferred_replica_is_live_and_in_sync() -> None:
    core = controller(states={0: PartitionState(2, 5, (1, 2, 3), 2, 7), 1: PartitionState(3, 4, (3, 1), 2, 9)})
    [write] = of(core.step(E.ElectLeaders(6, PREFERRED, None)), A.WriteStates)
    assert [(w.partition, w.state.leader) for w in write.writes] == [(0, 1)]
    [reply] = of(core.step(E.WriteDone(write.write_id, (8,))), A.Reply)
    assert reply.answer[("t", 0)] is None
    assert reply.answer[("t", 1)][0] == ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE


def test_replicas_on_a_failed_disk_lose_leadership_and_leave_the_isr() -> None:
    core = controller()
    out = core.step(E.LeaderAndIsrAnswered(1, frozenset({("t", 0)}), frozenset({("t", 1)})))
    [write] = of(out, A.WriteStates)
    assert [(w.partition, w.state.leader, w.state.isr) for w in write.writes] == [(0, 2, (2, 3))]


def test_takeover_does_not_let_a_leader_that_restarted_unwatched_resume_its_epoch() -> None:
    """Found by the simulator (seed 284): the controller crashed losing its unflushed tail,
    restarted within its session timeout and won /controller again; its takeover kept it
    leading the epoch whose acknowledged tail it had lost. Broker 2 registered (czxid 40)
    after the state's last write (mzxid 30): it restarted since, so it is elected around."""
    core = ControllerCore(ME)
    core.step(E.BrokersChanged({1: 10, 2: 40, 3: 30}))
    core.step(E.TopicLoaded(E.TopicView("t", {0: (2, 3, 1)}, {}, {0: PartitionState(2, 4, (2, 3, 1), 2, 9, 30)})))
    core.step(E.ControllerVacant())
    [write] = of(core.step(E.EpochWon(EPOCH, EPOCH_VERSION)), A.WriteStates)
    assert write.writes == (A.StateWrite("t", 0, 9, PartitionState(3, 5, (3, 1), EPOCH)),)


def test_takeover_brings_back_a_restarted_last_isr_member_at_a_new_epoch() -> None:
    core = ControllerCore(ME)
    core.step(E.BrokersChanged({1: 10, 2: 40, 3: 30}))
    core.step(E.TopicLoaded(E.TopicView("t", {0: (2, 3, 1)}, {}, {0: PartitionState(2, 4, (2,), 2, 9, 30)})))
    core.step(E.ControllerVacant())
    [offline] = of(core.step(E.EpochWon(EPOCH, EPOCH_VERSION)), A.WriteStates)
    assert offline.writes[0].state == PartitionState(-1, 5, (2,), EPOCH)
    [back] = of(core.step(E.WriteDone(offline.write_id, (10,))), A.WriteStates)
    assert back.writes == (A.StateWrite("t", 0, 10, PartitionState(2, 6, (2,), EPOCH)),)


def test_a_write_whose_answer_was_lost_is_reread_and_its_partitions_told() -> None:
    """Found by the simulator (seed 100103): a state write committed but its answer was lost
    (ERROR); the job gave up, and no broker was ever told the new leaders."""
    core = controller()
    [write] = of(core.step(E.BrokersChanged({1: 10, 3: 30})), A.WriteStates)
    [reload] = of(core.step(E.WriteFailed(write.write_id, E.Failure.ERROR)), A.Reload)
    core.step(
        E.TopicLoaded(
            E.TopicView(
                "t",
                {0: (1, 2, 3), 1: (2, 3, 1)},
                {},
                {0: PartitionState(1, 5, (1, 3), EPOCH, 8), 1: PartitionState(3, 5, (3, 1), EPOCH, 10)},
            )
        )
    )  # it committed
    out = core.step(E.Reloaded(reload.token))
    assert not of(out, A.WriteStates)
    told = {(a.broker, v.partition, v.state.leader) for a in of(out, A.SendLeaderAndIsr) for v in a.partitions}
    assert told == {(1, 0, 1), (3, 0, 1), (3, 1, 3), (1, 1, 3)}
