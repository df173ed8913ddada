"""Range and round-robin: every subscribed partition exactly once, deterministic, balanced."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from client.assignors import range_assign, round_robin_assign

topics = st.dictionaries(st.sampled_from("abcd"), st.integers(0, 12), min_size=1)
members = st.lists(st.text("xyz", min_size=1, max_size=3), min_size=1, max_size=6, unique=True)


@settings(max_examples=200, deadline=None)
@given(topics, members, st.data())
def test_every_subscribed_partition_assigned_exactly_once(parts, ids, data) -> None:
    subs = {m: data.draw(st.sets(st.sampled_from(sorted(parts)), min_size=1)) for m in ids}
    for assign in (range_assign, round_robin_assign):
        result = assign(subs, parts)
        owned = [tp for tps in result.values() for tp in tps]
        wanted = {(t, p) for t in set().union(*subs.values()) for p in range(parts[t])}
        assert sorted(owned) == sorted(wanted)
        assert all(tp[0] in subs[m] for m, tps in result.items() for tp in tps)
        assert assign(dict(reversed(list(subs.items()))), parts) == result


@settings(max_examples=200, deadline=None)
@given(topics, members)
def test_equal_subscriptions_balanced_within_one(parts, ids) -> None:
    subs = {m: set(parts) for m in ids}
    counts = [len(v) for v in round_robin_assign(subs, parts).values()]
    assert max(counts) - min(counts) <= 1
    for t in parts:
        per_topic = [len([tp for tp in v if tp[0] == t]) for v in range_assign(subs, parts).values()]
        assert max(per_topic) - min(per_topic) <= 1


def test_range_is_kafkas_contiguous_runs() -> None:
    assert range_assign({"b": ["t"], "a": ["t"]}, {"t": 5}) == {
        "b": [("t", 3), ("t", 4)],
        "a": [("t", 0), ("t", 1), ("t", 2)],
    }
