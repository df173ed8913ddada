"""Pure client state: subscription positions, the metadata cache, bootstrap parsing."""

from __future__ import annotations

import pytest

from client.cluster import BrokerAddress, ClusterMetadata, parse_bootstrap
from client.consumer.subscription_state import SubscriptionState
from client.errors import IllegalStateError
from client.structs import TopicPartition
from tests.client.metadata import metadata_response

TP0, TP1 = TopicPartition("t", 0), TopicPartition("t", 1)


def test_assign_keeps_positions_of_partitions_still_assigned() -> None:
    subs = SubscriptionState("earliest")
    subs.assign([TP0, TP1])
    assert subs.needs_reset() == [(TP0, "earliest"), (TP1, "earliest")]
    subs.seek(TP0, 42)
    subs.assign([TP0, TopicPartition("u", 0)])
    assert subs.state(TP0).position == 42
    assert not subs.is_assigned(TP1)
    with pytest.raises(IllegalStateError, match="not assigned"):
        subs.seek(TP1, 1)


def test_reset_strategy_none_leaves_no_strategy() -> None:
    subs = SubscriptionState("none")
    subs.assign([TP0])
    assert subs.needs_reset() == [(TP0, None)]
    with pytest.raises(ValueError):
        SubscriptionState("sometimes")


def test_fetchable_excludes_paused_and_unpositioned() -> None:
    subs = SubscriptionState("latest")
    subs.assign([TP0, TP1])
    assert subs.fetchable() == []
    subs.seek(TP0, 0)
    subs.seek(TP1, 5)
    subs.pause(TP1)
    assert subs.fetchable() == [TP0] and subs.paused() == {TP1}
    subs.resume(TP1)
    subs.request_reset(TP0, "latest")
    assert subs.fetchable() == [TP1]
    with pytest.raises(ValueError):
        subs.seek(TP1, -1)


METADATA = metadata_response(
    {1: ("127.0.0.1", 9092)},
    cluster_id="c1",
    controller_id=1,
    topics={"t": [(0, 1, 0, [1], [1]), (1, -1, 0, [1], []), (2, 2, 0, [2], [2])]},
    errors={"missing": 3},
)


def test_metadata_cache_knows_leaders_only_when_the_leader_is_a_live_broker() -> None:
    cluster = ClusterMetadata()
    cluster.update(METADATA)
    assert cluster.partitions_for("t") == [0, 1, 2]
    assert cluster.leader_for(TP0) == 1
    assert cluster.leader_for(TP1) is None  # no leader
    assert cluster.leader_for(TopicPartition("t", 2)) is None  # leader not in broker list
    assert cluster.available_partitions_for("t") == [0]
    assert cluster.partitions_for("missing") is None
    assert cluster.topic_error("missing") == (3, None)
    assert cluster.topics() == ["t"]


def test_metadata_update_drops_a_topic_that_now_errors() -> None:
    cluster = ClusterMetadata()
    cluster.update(METADATA)
    cluster.update(metadata_response({1: ("127.0.0.1", 9092)}, errors={"t": 3}))
    assert cluster.partitions_for("t") is None


def test_parse_bootstrap() -> None:
    assert parse_bootstrap("a:1, b:2") == [BrokerAddress("a", 1), BrokerAddress("b", 2)]
    assert parse_bootstrap(["h"]) == [BrokerAddress("h", 9092)]
    for bad in ("", "h:port", ","):
        with pytest.raises(ValueError):
            parse_bootstrap(bad)
