"""Random request sequences against one group: its invariants after every step.

- a Stable generation's stored assignment names exactly its members;
- whenever the live group is Stable or Empty with nothing in flight, a coordinator
  loaded from the records written so far equals it (what failover relies on).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from broker.groups import GroupState, load_groups
from broker.groups.messages import MemberIdentity
from tests.broker_groups.helpers import Driver

ops = st.lists(
    st.tuples(
        st.sampled_from(["join", "rejoin", "sync", "heartbeat", "leave", "commit", "wait", "static"]),
        st.integers(0, 4),
        st.integers(0, 1500),
    ),
    max_size=40,
)


def view(g) -> tuple:
    members = tuple((m.member_id, m.group_instance_id, m.assignment, m.protocols) for m in g.members.values())
    offsets = tuple(sorted((tp, o.offset) for tp, o in g.offsets.items()))
    return (
        g.state,
        g.generation_id,
        g.protocol_name if members else None,
        g.leader_id if members else None,
        members,
        offsets,
    )


@settings(max_examples=150, deadline=None)
@given(ops)
def test_random_sequences_keep_stable_assignments_whole_and_the_log_loadable(script) -> None:
    d = Driver()
    for op, k, ms in script:
        ids = list(d.group.members)
        m = ids[k % len(ids)] if ids else ""
        gen = d.group.generation_id
        if op == "join":
            d.join()
        elif op == "static":
            d.join(instance=f"i{k % 2}")
        elif op == "rejoin" and m:
            d.join(m, instance=d.group.members[m].group_instance_id)
        elif op == "sync" and m:
            d.sync(m, gen, [(x, x.encode()) for x in ids], instance=d.group.members[m].group_instance_id)
        elif op == "heartbeat" and m:
            d.heartbeat(m, gen, instance=d.group.members[m].group_instance_id)
        elif op == "leave" and m:
            d.leave(MemberIdentity(m))
        elif op == "commit":
            d.commit(m, gen if m else -1, {("t", k): ms})
        elif op == "wait":
            d.advance(ms)
        g = d.group
        if g.state is GroupState.STABLE:
            assert all(x.sync_request is None and x.join_request is None for x in g.members.values())
        if g.state in (GroupState.STABLE, GroupState.EMPTY):
            loaded = load_groups(d.log, now_ms=d.now_ms, coordinator_epoch=1).get("g")
            if loaded is None:
                assert not g.members and not g.offsets
            else:
                assert view(loaded) == view(g)
