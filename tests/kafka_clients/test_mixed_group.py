"""One consumer group, four clients: a confluent-kafka, a kafka-python, an aiokafka and a
pybroker member share a topic's 8 partitions with the range and the round-robin
assignor. Each run starts a different client first, so that client is the group leader
and computes everyone's assignment from the others' subscriptions (Kafka's
ConsumerProtocol bytes, written by four implementations).

The group settles with every partition owned by exactly one member, as the assignor
places them over the sorted member ids; each member reads its partitions from the
beginning, commits their end offsets, and then every client reads back every partition's
committed offset, its own and the other three's. The admin view (DescribeGroups) agrees.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.kafka_clients.conftest import needs
from tests.kafka_clients.drivers import load
from tests.kafka_clients.group_members import MEMBERS, Member, describe
from tests.kafka_clients.records import Record
from tests.kafka_clients.servers import Broker, unique_topic

pytestmark = needs("confluent", "kafka-python", "aiokafka")

PARTITIONS = 8
STABLE_FOR_S = 3.0


def expected_assignment(strategy: str, member_ids: list[str]) -> dict[str, set[int]]:
    """Kafka's range and round-robin assignors for one topic, over member ids sorted."""
    ids = sorted(member_ids)
    out: dict[str, set[int]] = {m: set() for m in ids}
    if strategy == "roundrobin":
        for p in range(PARTITIONS):
            out[ids[p % len(ids)]].add(p)
        return out
    per, extra = divmod(PARTITIONS, len(ids))
    start = 0
    for i, m in enumerate(ids):
        n = per + (1 if i < extra else 0)
        out[m] = set(range(start, start + n))
        start += n
    return out


def wait_for(what: str, check: Callable[[], bool], members: list[Member], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        for m in members:
            if m.error:
                raise AssertionError(f"{m.client} member failed while waiting for {what}:\n{m.error}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}: {describe(members)}")
        time.sleep(0.2)


def settled(members: list[Member]) -> bool:
    """Every partition owned once, every member owning some, each having read its
    partitions to the end (partition p holds p + 1 records)."""
    owned = [p for m in members for p in m.assignment]
    return (
        sorted(owned) == list(range(PARTITIONS))
        and all(m.assignment for m in members)
        and all(set(range(p + 1)) <= set(m.consumed.get(p, ())) for m in members for p in m.assignment)
    )


def check_described(bootstrap: str, group: str, strategy: str, leader: str, members: list[Member]) -> None:
    """DescribeGroups (through librdkafka's admin client) names the assignor and four
    members, each holding what it says it holds, as the assignor places partitions."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept referenced: a dropped client drops its requests
    desc = admin.describe_consumer_groups([group])[group].result(60)
    assert desc.partition_assignor == strategy, desc
    by_client = {d.client_id: d for d in desc.members}
    assert sorted(by_client) == sorted(MEMBERS), [(d.client_id, d.member_id) for d in desc.members]
    want = expected_assignment(strategy, [d.member_id for d in desc.members])
    for m in members:
        d = by_client[m.client]
        described = {tp.partition for tp in d.assignment.topic_partitions}
        assert described == set(m.assignment), f"{m.client}: described {described}, holds {set(m.assignment)}"
        assert set(m.assignment) == want[d.member_id], (
            f"{strategy} led by {leader}: {m.client} ({d.member_id}) holds {sorted(m.assignment)}, "
            f"want {sorted(want[d.member_id])}; {describe(members)}"
        )


@pytest.mark.parametrize(
    "strategy, leader",
    [("range", "confluent"), ("range", "pybroker"), ("roundrobin", "kafka-python"), ("roundrobin", "aiokafka")],
)
def test_mixed_group_shares_partitions_and_sees_each_others_commits(
    kafka_node: Broker, new_topic: Callable[..., str], strategy: str, leader: str
) -> None:
    bootstrap = kafka_node.bootstrap
    topic = new_topic("group", partitions=PARTITIONS)
    load("confluent").produce(
        bootstrap, topic, [Record(p, b"k%d" % i, b"v%d" % i) for p in range(PARTITIONS) for i in range(p + 1)]
    )
    group = unique_topic(f"mixed-{strategy}")
    order = [leader] + [c for c in MEMBERS if c != leader]
    members: list[Member] = []
    try:
        first = MEMBERS[leader](bootstrap, group, topic, PARTITIONS, strategy)
        first.start()
        members.append(first)
        wait_for(f"{leader} alone to own all partitions", lambda: len(first.assignment) == PARTITIONS, members, 90)
        for name in order[1:]:
            m = MEMBERS[name](bootstrap, group, topic, PARTITIONS, strategy)
            m.start()
            members.append(m)

        stable_since: list[float] = []

        def stable() -> bool:
            if not settled(members):
                stable_since.clear()
                return False
            stable_since[:] = stable_since or [time.monotonic()]
            return time.monotonic() - stable_since[0] >= STABLE_FOR_S

        wait_for("the four members to settle", stable, members, 150)

        check_described(bootstrap, group, strategy, leader, members)

        for m in members:
            m.to_commit = {p: p + 1 for p in m.assignment}
        wait_for("every member's commit", lambda: all(m.committed_ok.is_set() for m in members), members, 60)
        for m in members:
            m.check.set()
        wait_for(
            "every member to read the committed offsets", lambda: all(m.seen is not None for m in members), members, 60
        )
        for m in members:
            assert m.seen == {p: p + 1 for p in range(PARTITIONS)}, f"{m.client} sees committed offsets {m.seen}"
    finally:
        for m in members:
            m.stop_now.set()
        for m in members:
            m.join(60)
    errors = [f"{m.client}: {m.error}" for m in members if m.error]
    assert not errors, "\n".join(errors)
