"""`pybroker consume --group` and `pybroker groups list|describe` against a real node."""

from __future__ import annotations

import subprocess
import sys

from broker.cli.groups import partition_rows, table
from client import GroupDescription, MemberDescription, TopicPartition

RUN = [sys.executable, "-m", "broker"]


def cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*RUN, *args], input=stdin, capture_output=True, timeout=120)


def test_consume_with_a_group_resumes_where_the_group_left_off(shared_group_node) -> None:
    bs = ["--bootstrap", f"127.0.0.1:{shared_group_node.broker_port}"]
    assert cli("topics", "create", "cli-groups", "--partitions", "2", *bs).returncode == 0
    assert cli("produce", "cli-groups", "--partition", "0", *bs, stdin=b"a\nb\nc\n").returncode == 0
    first = cli("consume", "cli-groups", "--group", "readers", "--from-beginning", "--max-messages", "2", *bs)
    assert first.returncode == 0, first.stderr
    assert first.stdout == b"a\nb\n"
    second = cli("consume", "cli-groups", "--group", "readers", "--from-beginning", "--max-messages", "1", *bs)
    assert second.stdout == b"c\n"  # committed on exit, resumed here
    listed = cli("groups", "list", *bs)
    assert b"readers\tEmpty\tconsumer" in listed.stdout.splitlines()  # Empty keeps its protocol type, as Kafka
    described = cli("groups", "describe", "readers", *bs).stdout.decode()
    assert "State: Empty" in described
    rows = [line.split() for line in described.splitlines() if line.startswith("cli-groups")]
    assert ["cli-groups", "0", "3", "3", "0", "-", "-", "-"] in rows  # committed 3 of 3: no lag
    refused = cli("consume", "cli-groups", "--group", "readers", "--partition", "0", *bs)
    assert refused.returncode == 2 and b"--group" in refused.stderr


def test_describe_rows_show_owner_and_lag() -> None:
    tp0, tp1, tp2 = (TopicPartition("t", p) for p in range(3))
    group = GroupDescription(
        "g",
        "Stable",
        "consumer",
        "range",
        4,
        1,
        [MemberDescription("m-1", "i1", "c1", [tp0, tp1]), MemberDescription("m-2", None, "c2", [])],
    )
    rows = partition_rows(group, {tp0: 5, tp2: 1}, {tp0: 9, tp1: 3, tp2: 1})
    assert rows == [
        ("t", "0", "5", "9", "4", "m-1", "i1", "c1"),
        ("t", "1", "-", "3", "-", "m-1", "i1", "c1"),
        ("t", "2", "1", "1", "0", "-", "-", "-"),
    ]
    assert table(rows).splitlines()[0].split() == [
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "INSTANCE-ID",
        "CLIENT-ID",
    ]
