"""Scrape /metrics from real broker processes under traffic: counters move as the traffic says.

A 3-broker `pybroker cluster up`, a topic of one partition on all three: N records
produced -> the leader's messages-in for the topic grows by exactly N; a group that
commits offset M -> its coordinator reports a lag of N - M; a SIGKILLed
follower -> the leader's under-replicated partitions goes to 1, and back to 0 once the
follower is started again and caught up."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from client import AsyncConsumer, AsyncProducer, TopicPartition
from tests.console.cluster import cli, cluster_json, local_cluster, scrape
from tests.support.waiting import wait_until

pytestmark = pytest.mark.cluster

TOPIC = "scraped"


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def _produce(bootstrap: str, count: int) -> None:
    async with AsyncProducer(bootstrap, acks="all", linger_ms=5) as producer:
        futures = [await producer.send(TOPIC, f"record {i}".encode()) for i in range(count)]
        await producer.flush()
        for fut in futures:
            await fut


async def _commit(bootstrap: str, group: str, offset: int) -> None:
    async with AsyncConsumer(bootstrap, group_id=group, enable_auto_commit=False) as consumer:
        await consumer.commit({TopicPartition(TOPIC, 0): offset})


def _lag(state, group: str) -> float:
    """The group's lag for TOPIC-0, summed over every broker's scrape (only its coordinator reports it)."""
    return sum(
        _value(
            scrape(b.console_url + "metrics"),
            "kafka_consumergroup_lag",
            consumergroup=group,
            topic=TOPIC,
            partition="0",
        )
        for b in state.brokers
    )


def test_messages_in_and_under_replicated_partitions(tmp_path: Path):
    with local_cluster(tmp_path / "cluster") as state:
        d = ("--data-dir", str(state.data_dir))
        created = cli(
            "topics", "create", TOPIC, "--partitions", "1", "--replication-factor", "3", "--bootstrap", state.bootstrap
        )
        assert created.returncode == 0, created.stderr
        first = state.brokers[0].console_url
        wait_until(
            "a leader with a full ISR",
            lambda: any(
                t["name"] == TOPIC and len(t["partitions"][0]["isr"]) == 3 for t in cluster_json(first)["topics"]
            ),
            20,
        )
        leader_id = next(t for t in cluster_json(first)["topics"] if t["name"] == TOPIC)["partitions"][0]["leader"]
        leader = state.broker(leader_id)
        metrics = leader.console_url + "metrics"

        before = scrape(metrics)
        asyncio.run(_produce(state.bootstrap, 1000))
        after = scrape(metrics)
        grown = _value(after, "kafka_server_brokertopicmetrics_messagesin_total", topic=TOPIC) - _value(
            before, "kafka_server_brokertopicmetrics_messagesin_total", topic=TOPIC
        )
        assert grown == 1000
        assert _value(after, "kafka_server_brokertopicmetrics_bytesin_total", topic=TOPIC) > _value(
            before, "kafka_server_brokertopicmetrics_bytesin_total", topic=TOPIC
        )
        assert _value(after, "kafka_network_requestmetrics_totaltimems_count", request="Produce") > _value(
            before, "kafka_network_requestmetrics_totaltimems_count", request="Produce"
        )
        assert _value(after, "kafka_log_log_logendoffset", topic=TOPIC, partition="0") >= 1000
        assert _value(after, "kafka_server_replicamanager_underreplicatedpartitions") == 0

        follower = next(b for b in state.brokers if b.id != leader_id)
        assert cli("cluster", "kill", str(follower.id), *d).returncode == 0
        killed = time.monotonic()
        wait_until(
            "under-replicated partitions = 1",
            lambda: _value(scrape(metrics), "kafka_server_replicamanager_underreplicatedpartitions") == 1,
            30,
        )
        started = cli("cluster", "start", str(follower.id), *d)
        assert started.returncode == 0, started.stderr
        wait_until(
            "under-replicated partitions back to 0",
            lambda: _value(scrape(metrics), "kafka_server_replicamanager_underreplicatedpartitions") == 0,
            40,
        )
        print(f"under-replicated after {time.monotonic() - killed:.1f} s")

        # After the ISR checks: the commit creates __consumer_offsets, whose partitions count too.
        asyncio.run(_commit(state.bootstrap, "laggards", 400))
        wait_until("the coordinator reports lag 600", lambda: _lag(state, "laggards") == 600, 20)
