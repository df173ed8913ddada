"""The demo's narration of coord changes: each kind of change becomes the sentence that
says what Kafka's machinery did, and unrelated paths are ignored."""

from __future__ import annotations

from broker.cli.demo_watch import (
    describe_broker,
    describe_controller,
    describe_state,
    parse_broker_path,
    parse_state_path,
)
from broker.metadata.znodes import PartitionState


def test_paths_are_recognised():
    assert parse_state_path("/brokers/topics/t/partitions/3/state") == ("t", 3)
    assert parse_state_path("/brokers/topics/t/partitions/3") is None
    assert parse_state_path("/brokers/topics/t/partitions/x/state") is None
    assert parse_broker_path("/brokers/ids/12") == 12
    assert parse_broker_path("/brokers/ids") is None
    assert parse_broker_path("/brokers/idsx/1") is None


def test_registration_vanishing_and_returning():
    assert "/brokers/ids/2 vanished" in describe_broker(2, True, False)[0]
    assert "broker 2 registered" in describe_broker(2, False, True)[0]
    assert describe_broker(2, True, True) == []


def test_controller_changes():
    assert "controller broker 1 is gone" in describe_controller(1, None)[0]
    assert "broker 3 won the race" in describe_controller(None, 3)[0]
    assert describe_controller(3, 3) == []


def test_new_leader_with_epoch_and_isr_shrink():
    before = PartitionState(1, 0, (1, 2, 3), 1)
    after = PartitionState(2, 1, (2, 3), 2)
    lines = describe_state("t", 0, before, after)
    assert lines == [
        "t-0: controller (epoch 2) elected broker 2 leader, leader epoch 0 -> 1",
        "t-0: ISR shrank [1,2,3] -> [2,3]",
    ]


def test_isr_growing_back_and_offline_partition():
    assert describe_state("t", 0, PartitionState(2, 1, (2, 3), 2), PartitionState(2, 1, (2, 3, 1), 2)) == [
        "t-0: ISR grew [2,3] -> [2,3,1]"
    ]
    lines = describe_state("t", 0, PartitionState(3, 2, (3,), 2), PartitionState(-1, 3, (3,), 2))
    assert "offline" in lines[0]
    assert describe_state("t", 0, PartitionState(2, 1, (2,), 2), PartitionState(2, 2, (2,), 3)) == [
        "t-0: leader epoch 1 -> 2 (broker 2 leads again)"
    ]
