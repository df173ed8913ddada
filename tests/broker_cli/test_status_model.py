"""`pybroker status` rendering from a MetadataResponse: brokers, controller and epoch, each
partition's leader, epoch, replicas, ISR and HW, with notes for trouble."""

from __future__ import annotations

import json

from broker.cli.status_model import CoordRow, build_report, parse_srvr_mode, render_table
from client.protocol import messages as m

R = m.MetadataResponse
METADATA = R(
    cluster_id="abc",
    controller_id=2,
    brokers=[
        R.MetadataResponseBroker(node_id=2, host="127.0.0.1", port=9093, rack="r2"),
        R.MetadataResponseBroker(node_id=1, host="127.0.0.1", port=9092, rack=None),
    ],
    topics=[
        R.MetadataResponseTopic(
            name="t",
            error_code=0,
            partitions=[
                R.MetadataResponsePartition(
                    partition_index=1, leader_id=-1, leader_epoch=4, replica_nodes=[1, 3], isr_nodes=[3]
                ),
                R.MetadataResponsePartition(
                    partition_index=0, leader_id=1, leader_epoch=2, replica_nodes=[1, 2, 3], isr_nodes=[1, 2]
                ),
            ],
        ),
        R.MetadataResponseTopic(name="gone", error_code=3),
    ],
)


def test_table_shows_every_fact():
    report = build_report(METADATA, {("t", 0): 42}, controller_epoch=7, registered={1, 2, 3})
    text = render_table(report)
    assert "Controller: broker 2 (epoch 7)" in text
    lines = text.splitlines()
    broker_rows = [line.split() for line in lines if line.startswith(("  1 ", "  2 ", "  3 "))]
    assert broker_rows[0][:3] == ["1", "127.0.0.1:9092", "-"]
    assert broker_rows[1] == ["2", "127.0.0.1:9093", "r2", "controller"]
    assert broker_rows[2][:2] == ["3", "?:0"]  # registered in coord, not yet in the metadata
    rows = {tuple(line.split()[:2]): line.split() for line in lines if line.startswith("  t ")}
    assert rows[("t", "0")] == ["t", "0", "1", "2", "1,2,3", "1,2", "42", "under-replicated"]
    assert rows[("t", "1")] == ["t", "1", "none", "4", "1,3", "3", "?", "offline"]
    assert "warning: topic gone: error 3 UNKNOWN_TOPIC_OR_PARTITION" in text


def test_without_coord_the_controller_line_says_where_its_epoch_is():
    """Status read through a broker only: the brokers cannot tell the controller epoch
    (Metadata carries the controller's id only), so the line points at --coord instead of a '?'."""
    text = render_table(build_report(METADATA, {}))
    line = next(line for line in text.splitlines() if line.startswith("Controller:"))
    assert line == "Controller: broker 2 (its epoch is kept in coord: add --coord HOST:PORT to show it)"
    failed = build_report(
        METADATA, {}, errors=["coord c:1 not readable: refused"], coord=[CoordRow("c:1", "unreachable")]
    )
    text = render_table(failed)
    assert "Controller: broker 2 (epoch unknown: coord did not answer)" in text
    assert "warning: coord c:1 not readable: refused" in text


def test_json_has_the_same_facts():
    report = build_report(METADATA, {("t", 0): 42}, controller_epoch=None, registered=None)
    obj = json.loads(report.to_json())
    assert obj["controller_id"] == 2 and obj["controller_epoch"] is None
    assert [b["id"] for b in obj["brokers"]] == [1, 2]
    p0 = obj["partitions"][0]
    assert (p0["partition"], p0["leader"], p0["isr"], p0["high_watermark"], p0["under_replicated"]) == (
        0,
        1,
        [1, 2],
        42,
        True,
    )
    assert obj["partitions"][1]["offline"] is True


def test_broker_missing_from_coord_is_flagged():
    text = render_table(build_report(METADATA, {}, 1, registered={2}))
    assert "not registered in coord" in next(line for line in text.splitlines() if line.startswith("  1 "))


def test_coord_members_and_their_roles():
    assert parse_srvr_mode("Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0/0\nMode: follower\n") == "follower"
    assert parse_srvr_mode("This ZooKeeper instance is not currently serving requests") == "not serving"
    report = build_report(
        METADATA, {}, coord=[CoordRow("10.0.0.1:2181", "leader"), CoordRow("10.0.0.2:2181", "unreachable")]
    )
    text = render_table(report)
    assert "Coord ensemble (2)" in text
    assert [line.split() for line in text.splitlines() if line.startswith("  10.0.0.")] == [
        ["10.0.0.1:2181", "leader"],
        ["10.0.0.2:2181", "unreachable"],
    ]
    assert json.loads(report.to_json())["coord"][0] == {"address": "10.0.0.1:2181", "mode": "leader"}
