"""The group coordinator's transitions and error codes, each as a scenario on the core."""

from __future__ import annotations

from broker.groups import GroupState, load_groups
from broker.groups.messages import ErrorCode, MemberIdentity
from tests.broker_groups.helpers import Driver


def test_first_join_completes_a_generation_and_the_leader_gets_every_subscription() -> None:
    d = Driver()
    r = d.join()
    res = d.joined(r)
    assert res.error is ErrorCode.NONE and res.generation_id == 1 and res.leader_id == res.member_id
    assert [m.metadata for m in res.members] == [b"sub-t"]
    assert d.group.state is GroupState.COMPLETING_REBALANCE


def test_sync_makes_the_group_stable_only_once_the_assignment_is_stored() -> None:
    d = Driver(auto_persist=False)
    m = d.joined(d.join()).member_id
    r = d.sync(m, 1, [(m, b"a")])
    assert r not in d.replies and d.group.state is GroupState.COMPLETING_REBALANCE
    d.flush()
    assert d.replies[r].assignment == b"a" and d.group.state is GroupState.STABLE


def test_failed_assignment_write_answers_the_error_and_rebalances() -> None:
    d = Driver(auto_persist=False)
    m = d.joined(d.join()).member_id
    r = d.sync(m, 1, [(m, b"a")])
    d.flush(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    assert d.replies[r].error is ErrorCode.NOT_COORDINATOR
    assert d.group.state is GroupState.PREPARING_REBALANCE


def test_member_id_required_dance() -> None:
    d = Driver()
    r = d.join(required=True)
    first = d.joined(r)
    assert first.error is ErrorCode.MEMBER_ID_REQUIRED and first.member_id
    assert d.joined(d.join(first.member_id)).error is ErrorCode.NONE


def test_heartbeat_errors() -> None:
    d = Driver()
    a, _ = d.stable_group(2)
    assert d.heartbeat(a, 2) is ErrorCode.NONE
    assert d.heartbeat("nobody", 2) is ErrorCode.UNKNOWN_MEMBER_ID
    assert d.heartbeat(a, 1) is ErrorCode.ILLEGAL_GENERATION
    d.join()  # a newcomer starts a rebalance
    assert d.heartbeat(a, 2) is ErrorCode.REBALANCE_IN_PROGRESS


def test_leave_rebalances_and_last_leave_empties_the_group() -> None:
    d = Driver()
    a, b = d.stable_group(2)
    d.leave(MemberIdentity(b))
    assert d.group.state is GroupState.PREPARING_REBALANCE
    assert d.joined(d.join(a)).generation_id == 3
    d.leave(MemberIdentity(a))
    assert d.group.state is GroupState.EMPTY and not d.group.members
    r = d.leave(MemberIdentity(a))
    assert d.replies[r].members[0][1] is ErrorCode.UNKNOWN_MEMBER_ID


def test_session_expiry_removes_the_silent_member() -> None:
    d = Driver()
    a, b = d.stable_group(2, session=1000)
    d.now_ms += 600
    d.heartbeat(a, 2)
    d.advance(500)
    assert b not in d.group.members and d.group.state is GroupState.PREPARING_REBALANCE


def test_rebalance_timeout_drops_members_that_never_rejoin() -> None:
    d = Driver()
    a, _ = d.stable_group(2, session=5000, rebalance=2000)
    d.join(a)
    d.advance(2000)
    assert list(d.group.members) == [a] and d.group.state is GroupState.COMPLETING_REBALANCE


def test_inconsistent_protocol_and_session_timeout_are_refused() -> None:
    d = Driver()
    d.stable_group(1)
    assert d.joined(d.join(protocols=(("roundrobin", b""),))).error is ErrorCode.INCONSISTENT_GROUP_PROTOCOL
    assert d.joined(d.join(session=10)).error is ErrorCode.INVALID_SESSION_TIMEOUT


def test_protocol_selection_takes_the_common_assignor() -> None:
    d = Driver()
    first = d.joined(d.join(protocols=(("range", b""), ("roundrobin", b"")))).member_id
    r = d.join(protocols=(("roundrobin", b""),))  # parked: a rebalance began
    assert d.joined(d.join(first, protocols=(("range", b""), ("roundrobin", b"")))).protocol_name == "roundrobin"
    assert d.joined(r).protocol_name == "roundrobin"


def test_static_member_restart_keeps_its_place_without_a_rebalance_and_fences_the_old_id() -> None:
    d = Driver()
    d.stable_group(1, instance="i1")
    old = next(iter(d.group.members))
    gen = d.group.generation_id
    res = d.joined(d.join(instance="i1"))
    assert res.error is ErrorCode.NONE and res.member_id != old and res.generation_id == gen
    assert d.group.state is GroupState.STABLE
    assert d.heartbeat(old, gen, instance="i1") is ErrorCode.FENCED_INSTANCE_ID
    assert d.replies[d.sync(res.member_id, gen, instance="i1")].assignment == old.encode()


def test_static_member_with_changed_subscription_rebalances() -> None:
    d = Driver()
    d.stable_group(1, instance="i1")
    d.join(instance="i1", protocols=(("range", b"other"),))
    assert d.group.generation_id == 2


def test_offset_commit_checks_member_and_generation_and_fetch_sees_only_stored_commits() -> None:
    d = Driver(auto_persist=False)
    d.auto_persist = True
    (a,) = d.stable_group(1)
    d.auto_persist = False
    tp = ("t", 0)
    assert d.replies[d.commit("x", 1, {tp: 5})].error is ErrorCode.UNKNOWN_MEMBER_ID
    assert d.replies[d.commit(a, 0, {tp: 5})].error is ErrorCode.ILLEGAL_GENERATION
    assert d.replies[d.commit("", -1, {tp: 5})].error is ErrorCode.UNKNOWN_MEMBER_ID
    r = d.commit(a, 1, {tp: 7})
    assert d.fetch([tp]) == {tp: -1}
    d.flush()
    assert d.replies[r].partitions == ((tp, ErrorCode.NONE),) and d.fetch([tp]) == {tp: 7}


def test_simple_commit_allowed_in_an_empty_group() -> None:
    d = Driver()
    r = d.commit("", -1, {("t", 1): 3})
    assert d.replies[r].partitions[0][1] is ErrorCode.NONE and d.fetch() == {("t", 1): 3}


def test_commit_refused_while_completing_rebalance() -> None:
    d = Driver()
    m = d.joined(d.join()).member_id
    assert d.replies[d.commit(m, 1, {("t", 0): 1})].error is ErrorCode.REBALANCE_IN_PROGRESS


def test_offsets_of_an_empty_group_expire_then_the_group_is_dead_and_tombstoned() -> None:
    d = Driver()
    d.commit("", -1, {("t", 0): 3})
    d.advance(d.group.config.offsets_retention_ms + 1)
    assert d.group.state is GroupState.DEAD and d.fetch() == {}
    assert load_groups(d.log, now_ms=d.now_ms) == {}


def test_loader_rebuilds_the_stable_group_and_its_offsets() -> None:
    d = Driver()
    a, b = d.stable_group(2)
    d.commit(a, 2, {("t", 0): 9})
    loaded = load_groups(d.log, now_ms=d.now_ms, coordinator_epoch=1)["g"]
    assert loaded.state is GroupState.STABLE and loaded.generation_id == 2
    assert {m: x.assignment for m, x in loaded.members.items()} == {a: a.encode(), b: b.encode()}
    assert loaded.offsets[("t", 0)].offset == 9 and loaded.leader_id == a


def test_a_restored_group_never_hands_out_a_member_id_it_still_holds() -> None:
    d = Driver()
    (a,) = d.stable_group(1)
    loaded = load_groups(d.log, now_ms=d.now_ms, coordinator_epoch=0, config=d.group.config)["g"]
    again = Driver(group=loaded, now_ms=d.now_ms)  # same epoch: a restart, no failover
    again.join()  # parked until a rejoins
    assert len(again.group.members) == 2 and a in again.group.members


def test_a_rebalance_during_the_assignment_write_does_not_block_the_next_generation() -> None:
    d = Driver(auto_persist=False)
    a = d.joined(d.join()).member_id
    d.sync(a, 1, [(a, b"first")])  # written, not yet replicated
    b_join = d.join()  # a newcomer: generation 2 begins
    a_join = d.join(a)
    d.flush()  # the old write lands late
    assert d.group.generation_id == 2 and d.joined(a_join).error is ErrorCode.NONE
    b = d.joined(b_join).member_id
    r = d.sync(a, 2, [(a, b"a2"), (b, b"b2")])
    d.flush()
    assert d.replies[r].assignment == b"a2" and d.group.state is GroupState.STABLE


def test_delete_group_only_when_empty_tombstones_its_offsets_and_waits_for_the_write() -> None:
    d = Driver()
    (a,) = d.stable_group(1)
    assert d.replies[d.delete()].error is ErrorCode.NON_EMPTY_GROUP
    d.commit(a, 1, {("t", 0): 4})
    d.leave(MemberIdentity(a))
    assert d.group.state is GroupState.EMPTY and d.fetch() == {("t", 0): 4}
    d.auto_persist = False
    r = d.delete()
    assert r not in d.replies and d.group.state is GroupState.DEAD  # no join can slip in meanwhile
    d.flush()
    assert d.replies[r].error is ErrorCode.NONE and d.fetch() == {}
    assert load_groups(d.log, now_ms=d.now_ms) == {}
    assert d.replies[d.delete()].error is ErrorCode.GROUP_ID_NOT_FOUND


def test_delete_group_whose_write_fails_tells_the_client_to_find_the_coordinator() -> None:
    d = Driver(auto_persist=False)
    d.commit("", -1, {("t", 1): 3})
    d.flush()
    r = d.delete()
    d.flush(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    assert d.replies[r].error is ErrorCode.NOT_COORDINATOR
