"""Partition assignors a group leader runs: Kafka's range and round-robin, as pure functions.

The group coordinator never assigns: it hands the leader every member's subscription
and stores what the leader sends back. So the leader's assignor must be deterministic
(every leader computes the same answer from the same input) and must give every
subscribed partition to exactly one subscribed member. These functions take the
subscriptions (member id -> topics) and the partition count per topic, and return
member id -> sorted topic-partitions; every member appears, possibly with nothing.
Topics no longer in the metadata are skipped. No I/O, no clock, no randomness.

Static members (KIP-345) should be keyed by their group_instance_id, so a restarted
member lands on the same partitions; Kafka's range assignor sorts that way too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

TopicPartition = tuple[str, int]
Assignment = dict[str, list[TopicPartition]]

RANGE = "range"
ROUND_ROBIN = "roundrobin"


def range_assign(subscriptions: Mapping[str, Collection[str]], partitions_per_topic: Mapping[str, int]) -> Assignment:
    """Per topic, partitions in order cut into contiguous runs over the topic's subscribers
    sorted by id; the first (partitions mod subscribers) get one extra. Balanced within one
    per topic; across many topics the first members collect the extras (Kafka's known skew)."""
    assignment: Assignment = {m: [] for m in subscriptions}
    topics = sorted({t for topics in subscriptions.values() for t in topics if t in partitions_per_topic})
    for topic in topics:
        members = sorted(m for m, subscribed in subscriptions.items() if topic in subscribed)
        count = partitions_per_topic[topic]
        per_member, extra = divmod(count, len(members))
        start = 0
        for i, member in enumerate(members):
            size = per_member + (1 if i < extra else 0)
            assignment[member].extend((topic, p) for p in range(start, start + size))
            start += size
    return assignment


def round_robin_assign(
    subscriptions: Mapping[str, Collection[str]], partitions_per_topic: Mapping[str, int]
) -> Assignment:
    """All subscribed partitions sorted by (topic, partition), dealt one at a time to the
    members in id order, circularly, skipping a member not subscribed to that topic.
    With equal subscriptions every member gets within one of every other."""
    assignment: Assignment = {m: [] for m in subscriptions}
    members = sorted(subscriptions)
    topics = sorted({t for topics in subscriptions.values() for t in topics if t in partitions_per_topic})
    position = 0
    for topic in topics:
        for partition in range(partitions_per_topic[topic]):
            while topic not in subscriptions[members[position % len(members)]]:
                position += 1
            assignment[members[position % len(members)]].append((topic, partition))
            position += 1
    return assignment


ASSIGNORS = {RANGE: range_assign, ROUND_ROBIN: round_robin_assign}
