"""kcat, as a Kafka user types it: -L lists the broker and its topics; -P writes keyed
records with headers (-K, -H); -C -e reads them back with -f formatting keys, headers,
offsets and timestamps."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from tests.kafka_clients.conftest import needs
from tests.kafka_clients.drivers.with_kcat import run
from tests.kafka_clients.servers import Broker

pytestmark = needs("kcat")


def test_kcat_lists_the_broker_and_topics(kafka_node: Broker, new_topic: Callable[..., str]) -> None:
    topic = new_topic("listed", partitions=3)
    meta = json.loads(run(["-b", kafka_node.bootstrap, "-L", "-J"]))
    brokers = {b["id"]: b["name"] for b in meta["brokers"]}
    assert len(brokers) == 1, meta["brokers"]
    if kafka_node.procs is not None:  # a reference broker may advertise another name
        assert list(brokers.values()) == [kafka_node.bootstrap], meta["brokers"]
    topics = {t["topic"]: t for t in meta["topics"]}
    assert topic in topics, sorted(topics)
    partitions = sorted(topics[topic]["partitions"], key=lambda p: p["partition"])
    assert [p["partition"] for p in partitions] == [0, 1, 2]
    for p in partitions:
        assert p["leader"] in brokers, p
        assert [r["id"] for r in p["replicas"]] == [p["leader"]], p
        assert [r["id"] for r in p["isrs"]] == [p["leader"]], p
    text = run(["-b", kafka_node.bootstrap, "-L", "-t", topic]).decode()
    assert f'topic "{topic}" with 3 partitions:' in text, text
    assert "1 brokers:" in text, text


def test_kcat_produces_keyed_records_with_headers_and_formats_them(
    kafka_node: Broker, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("kcat-fmt", partitions=2)
    t0 = int(time.time() * 1000)
    run(
        [
            "-P",
            "-b",
            kafka_node.bootstrap,
            "-t",
            topic,
            "-p",
            "1",
            "-K",
            ":",
            "-H",
            "source=kcat",
            "-H",
            "attempt=1",
            "-X",
            "acks=all",
        ],
        b"k1:first\nk2:second\nk1:third\n",
    )
    t1 = int(time.time() * 1000)
    out = run(
        ["-C", "-b", kafka_node.bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%p\t%o\t%T\t%k\t%s\t%h\n"]
    ).decode()
    rows = [line.split("\t") for line in out.splitlines()]
    assert [(r[0], r[1], r[3], r[4], r[5]) for r in rows] == [
        ("1", "0", "k1", "first", "source=kcat,attempt=1"),
        ("1", "1", "k2", "second", "source=kcat,attempt=1"),
        ("1", "2", "k1", "third", "source=kcat,attempt=1"),
    ], out
    for r in rows:
        assert t0 - 2000 <= int(r[2]) <= t1 + 2000, (r, t0, t1)


def test_kcat_reads_from_an_offset_and_a_count(kafka_node: Broker, new_topic: Callable[..., str]) -> None:
    topic = new_topic("kcat-offset", partitions=1)
    run(["-P", "-b", kafka_node.bootstrap, "-t", topic, "-p", "0"], b"".join(b"v%d\n" % i for i in range(10)))
    out = run(
        ["-C", "-b", kafka_node.bootstrap, "-t", topic, "-p", "0", "-o", "4", "-c", "3", "-e", "-q", "-f", "%o=%s\n"]
    ).decode()
    assert out.split() == ["4=v4", "5=v5", "6=v6"], out
    tail = run(
        ["-C", "-b", kafka_node.bootstrap, "-t", topic, "-p", "0", "-o", "-2", "-e", "-q", "-f", "%o=%s\n"]
    ).decode()
    assert tail.split() == ["8=v8", "9=v9"], tail
