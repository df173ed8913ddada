"""One consumer-group member per Kafka client, each on its own thread, driven alike by a
test: keep polling (so rebalances complete), commit when told, then read every
partition's committed offset when told.

A member records what it consumed and its current assignment; the test only reads them.
Each client is touched from its own thread alone (kafka-python and aiokafka consumers
are not thread-safe), and every wait is bounded by the member's deadline. This module
must never decide what a correct group looks like: the test does.
"""

from __future__ import annotations

import asyncio
import threading
import time
import traceback

POLL_S = 0.2


class Member(threading.Thread):
    """Polls until stopped (or `lifetime` passes); commits and checks on request."""

    client = ""

    def __init__(
        self, bootstrap: str, group: str, topic: str, partitions: int, strategy: str, lifetime: float = 240.0
    ) -> None:
        super().__init__(name=f"member-{self.client}", daemon=True)
        self.bootstrap, self.group, self.topic = bootstrap, group, topic
        self.partitions, self.strategy = partitions, strategy
        self.deadline = time.monotonic() + lifetime
        self.assignment: frozenset[int] = frozenset()
        self.consumed: dict[int, list[int]] = {}
        self.to_commit: dict[int, int] | None = None  # set by the test: offsets to commit
        self.committed_ok = threading.Event()
        self.check = threading.Event()  # set by the test: read all committed offsets
        self.seen: dict[int, int | None] | None = None  # what this client read back
        self.stop_now = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        try:
            self.serve()
        except BaseException:  # noqa: BLE001 - reported to the test, which fails naming this client
            self.error = traceback.format_exc()

    def step(self, records: list[tuple[int, int]], assignment: set[int]) -> bool:
        """Book one poll's worth; True while the member should go on."""
        for partition, offset in records:
            self.consumed.setdefault(partition, []).append(offset)
        self.assignment = frozenset(assignment)
        return not self.stop_now.is_set() and time.monotonic() < self.deadline

    def serve(self) -> None:
        raise NotImplementedError


class ConfluentMember(Member):
    client = "confluent"

    def serve(self) -> None:
        from confluent_kafka import Consumer, TopicPartition

        c = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": self.group,
                "client.id": self.client,
                "partition.assignment.strategy": self.strategy,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 30000,
                "heartbeat.interval.ms": 1000,
            }
        )
        try:
            c.subscribe([self.topic])
            while True:
                msgs = c.consume(100, POLL_S)
                for m in msgs:
                    if m.error():
                        raise AssertionError(f"confluent-kafka group member: {m.error()}")
                if not self.step([(m.partition(), m.offset()) for m in msgs], {tp.partition for tp in c.assignment()}):
                    break
                if self.to_commit is not None and not self.committed_ok.is_set():
                    c.commit(
                        offsets=[TopicPartition(self.topic, p, o) for p, o in self.to_commit.items()],
                        asynchronous=False,
                    )
                    self.committed_ok.set()
                if self.check.is_set() and self.seen is None:
                    got = c.committed([TopicPartition(self.topic, p) for p in range(self.partitions)], timeout=30)
                    self.seen = {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in got}
        finally:
            c.close()


class KafkaPythonMember(Member):
    client = "kafka-python"

    def serve(self) -> None:
        from kafka import KafkaConsumer, TopicPartition
        from kafka.coordinator.assignors.range import RangePartitionAssignor
        from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
        from kafka.structs import OffsetAndMetadata

        assignor = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}[self.strategy]
        c = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group,
            client_id=self.client,
            partition_assignment_strategy=[assignor],
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=30000,
            heartbeat_interval_ms=1000,
        )
        try:
            c.subscribe([self.topic])
            while True:
                batches = c.poll(timeout_ms=int(POLL_S * 1000))
                records = [(r.partition, r.offset) for rs in batches.values() for r in rs]
                if not self.step(records, {tp.partition for tp in c.assignment()}):
                    break
                if self.to_commit is not None and not self.committed_ok.is_set():
                    c.commit(
                        {TopicPartition(self.topic, p): OffsetAndMetadata(o, "", -1) for p, o in self.to_commit.items()}
                    )
                    self.committed_ok.set()
                if self.check.is_set() and self.seen is None:
                    self.seen = {p: c.committed(TopicPartition(self.topic, p)) for p in range(self.partitions)}
        finally:
            c.close()


class AiokafkaMember(Member):
    client = "aiokafka"

    def serve(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.coordinator.assignors.range import RangePartitionAssignor
        from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

        assignor = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}[self.strategy]
        c = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group,
            client_id=self.client,
            partition_assignment_strategy=(assignor,),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=30000,
            heartbeat_interval_ms=1000,
        )
        await c.start()
        try:
            c.subscribe([self.topic])
            while True:
                batches = await c.getmany(timeout_ms=int(POLL_S * 1000))
                records = [(r.partition, r.offset) for rs in batches.values() for r in rs]
                if not self.step(records, {tp.partition for tp in c.assignment()}):
                    break
                if self.to_commit is not None and not self.committed_ok.is_set():
                    await c.commit({TopicPartition(self.topic, p): o for p, o in self.to_commit.items()})
                    self.committed_ok.set()
                if self.check.is_set() and self.seen is None:
                    self.seen = {p: await c.committed(TopicPartition(self.topic, p)) for p in range(self.partitions)}
        finally:
            await c.stop()


class PybrokerMember(Member):
    client = "pybroker"

    def serve(self) -> None:
        from client import Consumer, TopicPartition

        with Consumer(
            self.bootstrap,
            group_id=self.group,
            client_id=self.client,
            partition_assignment_strategy=self.strategy,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=30000,
            heartbeat_interval_ms=1000,
        ) as c:
            c.subscribe([self.topic])
            while True:
                records = [(r.partition, r.offset) for r in c.poll(timeout_ms=int(POLL_S * 1000))]
                if not self.step(records, {tp.partition for tp in c.assignment()}):
                    break
                if self.to_commit is not None and not self.committed_ok.is_set():
                    c.commit({TopicPartition(self.topic, p): o for p, o in self.to_commit.items()})
                    self.committed_ok.set()
                if self.check.is_set() and self.seen is None:
                    self.seen = {p: c.committed(TopicPartition(self.topic, p)) for p in range(self.partitions)}


MEMBERS: dict[str, type[Member]] = {
    m.client: m for m in (ConfluentMember, KafkaPythonMember, AiokafkaMember, PybrokerMember)
}


def describe(members: list[Member]) -> str:
    return "; ".join(
        f"{m.client}: assigned {sorted(m.assignment)}, consumed "
        f"{ {p: len(o) for p, o in sorted(m.consumed.items())} }" + (" ERROR" if m.error else "")
        for m in members
    )
