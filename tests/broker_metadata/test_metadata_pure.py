"""Metadata pieces without coord: Kafka JSON layout, CreateTopics rules, config files."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.config import ConfigError, load_config
from broker.metadata import znodes as Z
from broker.metadata.cache import MetadataCache
from broker.metadata.validation import assign_replicas, check_new_topic
from client.protocol.errors import ErrorCode


def test_json_matches_kafkas_layout():
    state = json.loads(Z.encode_state(Z.PartitionState(1, 4, (1, 2), 7)))
    assert state == {"version": 1, "leader": 1, "leader_epoch": 4, "controller_epoch": 7, "isr": [1, 2]}
    topic = json.loads(Z.encode_assignment({1: [2, 1], 0: [1, 2]}, "id"))
    assert topic["version"] == 3 and topic["partitions"] == {"0": [1, 2], "1": [2, 1]}
    broker = json.loads(Z.encode_broker(Z.BrokerInfo(3, "127.0.0.1", 9093, "r1"), 5))
    assert broker["endpoints"] == ["PLAINTEXT://127.0.0.1:9093"] and broker["rack"] == "r1"
    assert Z.state_path("t", 2) == "/brokers/topics/t/partitions/2/state"
    assert len(Z.new_cluster_id()) == 22


@given(st.dictionaries(st.integers(0, 50), st.lists(st.integers(0, 9), min_size=1, max_size=3), max_size=10))
def test_assignment_round_trips(assignment):
    assert Z.decode_assignment("t", Z.encode_assignment(assignment, "x")) == assignment


@pytest.mark.parametrize(
    "args, code",
    [
        (("bad name!", 1, 1, {}), ErrorCode.INVALID_TOPIC_EXCEPTION),
        (("..", 1, 1, {}), ErrorCode.INVALID_TOPIC_EXCEPTION),
        (("x" * 250, 1, 1, {}), ErrorCode.INVALID_TOPIC_EXCEPTION),
        (("t", 0, 1, {}), ErrorCode.INVALID_PARTITIONS),
        (("t", 1, 2, {}), ErrorCode.INVALID_REPLICATION_FACTOR),
        (("t", 1, 0, {}), ErrorCode.INVALID_REPLICATION_FACTOR),
        (("t", 1, 1, {"retention.ms": "soon"}), ErrorCode.INVALID_CONFIG),
        (("t", 1, 1, {"no.such": "1"}), ErrorCode.INVALID_CONFIG),
        (("t", 1, 1, {"cleanup.policy": "sideways"}), ErrorCode.INVALID_CONFIG),
    ],
)
def test_create_topic_refusals(args, code):
    refusal = check_new_topic(*args, live_brokers=1)
    assert refusal is not None and refusal[0] == code and refusal[1]


def test_valid_topic_and_round_robin_assignment():
    assert check_new_topic("orders.v1_x-y", 3, 1, {"retention.ms": "1000"}, live_brokers=1) is None
    assert assign_replicas(3, 2, [1, 2, 3]) == {0: [1, 2], 1: [2, 3], 2: [3, 1]}


def test_rack_aware_assignment_spreads_every_partition_over_racks():
    racks = {1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"}
    assignment = assign_replicas(6, 3, list(racks), racks=racks)
    for replicas in assignment.values():
        assert len(set(replicas)) == 3 and {racks[r] for r in replicas} == {"a", "b", "c"}
    firsts = [replicas[0] for replicas in assignment.values()]
    assert sorted(firsts) == [1, 2, 3, 4, 5, 6]  # leadership spread over every broker
    # two racks, RF 3: both racks used, no broker twice
    two = {1: "a", 2: "a", 3: "b"}
    for replicas in assign_replicas(3, 3, [1, 2, 3], racks=two).values():
        assert sorted(replicas) == [1, 2, 3]


def test_toml_config_accepts_kafka_names_and_flags_override(tmp_path):
    path = tmp_path / "b.toml"
    path.write_text('"log.retention.ms" = 1000\nnum_partitions = 3\n"broker.id" = 7\n')
    cfg = load_config(path, port=9999, broker_id=None)
    assert (cfg.log_retention_ms, cfg.num_partitions, cfg.broker_id, cfg.port) == (1000, 3, 7, 9999)
    path.write_text('"log.retention.hours" = 1\n')
    with pytest.raises(ConfigError, match=r"log\.retention\.hours"):
        load_config(path)


def test_cache_is_cut_off_only_after_the_session_timeout_without_coord():
    cache = MetadataCache()
    assert not cache.cut_off(100.0, 2.0)  # connected
    cache.coord_suspended_at = 100.0
    assert not cache.cut_off(101.9, 2.0)  # suspended, the session may still live
    assert cache.cut_off(102.1, 2.0)  # past the timeout: coord has expired us
    cache.coord_suspended_at = None  # connected again
    assert not cache.cut_off(200.0, 2.0)
