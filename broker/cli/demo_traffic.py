"""The failover demo's traffic: a numbered acks=all producer and a consumer, as asyncio tasks.

The producer sends record 1, 2, 3, ... (the value is the number) to one partition at a
steady rate without waiting for each answer, so the demo sees every retry and error;
each future's outcome goes into the Ledger. The consumer reads the partition from the
beginning and notes every record it gets. `ClientLogTap` counts what the client library
logs (retries, unreachable brokers) so the demo can say once a second what the
application would not otherwise see. This module must never touch coord or processes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from broker.cli.demo_ledger import Ledger
from client import AsyncConsumer, AsyncProducer, TopicPartition
from client.structs import ConsumerRecord

_RETRY = re.compile(r"retrying \S+ after (\w+)")
_REACH = re.compile(r"cannot reach broker (\S+?):")


def log_key(message: str) -> str:
    """A short class for one client log line: 'retry: NOT_LEADER_OR_FOLLOWER', ..."""
    m = _RETRY.search(message)
    if m:
        return f"retry after {m.group(1)}"
    m = _REACH.search(message)
    if m:
        return f"cannot reach broker {m.group(1)}"
    return message.split(":", 1)[0][:60]


class ClientLogTap(logging.Handler):
    """Counts the client library's log lines by kind while installed on the `client` logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: Counter[str] = Counter()
        self._logger = logging.getLogger("client")
        self._saved = (self._logger.level, self._logger.propagate)

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[log_key(record.getMessage())] += 1

    def install(self) -> None:
        self._logger.addHandler(self)
        self._logger.setLevel(logging.DEBUG)
        self._logger.propagate = False  # counted and told by the demo, not printed raw

    def remove(self) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._saved[0])
        self._logger.propagate = self._saved[1]

    def take(self) -> Counter[str]:
        counts, self.counts = self.counts, Counter()
        return counts


class Traffic:
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        ledger: Ledger,
        say: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        rate: float = 50.0,
        security: dict[str, Any] | None = None,
    ) -> None:
        """`security`: the clients' TLS/SASL settings (none: plaintext)."""
        self.topic = topic
        self.ledger = ledger
        self.say = say
        self.clock = clock
        self.interval = 1.0 / rate
        self.producer = AsyncProducer(
            bootstrap,
            acks="all",
            linger_ms=2,
            max_in_flight=1,
            retry_backoff_ms=100,
            request_timeout_ms=5000,
            delivery_timeout_ms=120000,
            client_id="failover-demo-producer",
            **(security or {}),
        )
        self.consumer = AsyncConsumer(
            bootstrap,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=200,
            request_timeout_ms=5000,
            client_id="failover-demo-consumer",
            **(security or {}),
        )
        self.errors: Counter[str] = Counter()
        self._tasks: list[asyncio.Task] = []
        self._producing: asyncio.Task | None = None
        self._pending: set[int] = set()

    async def start(self) -> None:
        await self.producer.start()
        await self.consumer.start()
        self.consumer.assign([TopicPartition(self.topic, 0)])
        loop = asyncio.get_running_loop()
        self._producing = loop.create_task(self._produce())
        self._tasks = [self._producing, loop.create_task(self._consume())]

    async def _produce(self) -> None:
        seq = 0
        while True:
            seq += 1
            self.ledger.sent(seq, self.clock())
            future = await self.producer.send(self.topic, value=str(seq).encode(), partition=0)
            self._pending.add(seq)
            future.add_done_callback(functools.partial(self._answered, seq))
            await asyncio.sleep(self.interval)

    def _answered(self, seq: int, future) -> None:
        self._pending.discard(seq)
        try:
            exc = future.exception()
        except asyncio.CancelledError:  # the producer closed with the record still unanswered
            self.ledger.fail(seq, "unanswered when the producer closed")
            return
        if exc is None:
            meta = future.result()
            self.ledger.ack(seq, meta.partition, meta.offset, self.clock())
        else:
            self.ledger.fail(seq, str(exc))
            self.errors[f"{type(exc).__name__} ({str(exc)[:100]})"] += 1

    async def _consume(self) -> None:
        while True:
            try:
                records = await self.consumer.poll(timeout_ms=300)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the demo tells it and keeps reading
                self.errors[f"consumer {type(exc).__name__}"] += 1
                await asyncio.sleep(0.3)
                continue
            for r in records:
                self._consumed(r)

    def _consumed(self, r: ConsumerRecord) -> None:
        try:
            seq = int(r.value)
        except (TypeError, ValueError):
            return
        self.ledger.consume(seq, r.partition, r.offset)

    def take_errors(self) -> Counter[str]:
        """Errors handed to the application since the last call, by kind."""
        errors, self.errors = self.errors, Counter()
        return errors

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def oldest_unanswered(self) -> tuple[int, float] | None:
        """(seq, seconds waiting) of the longest-waiting record, or None if all were answered."""
        if not self._pending:
            return None
        seq = min(self._pending)
        return seq, self.clock() - self.ledger.sent_at[seq]

    async def stop_producing(self, timeout: float) -> None:
        """Stop sending; wait up to `timeout` s for every sent record's answer."""
        if self._producing is not None:
            self._producing.cancel()
            await asyncio.gather(self._producing, return_exceptions=True)
        try:
            await asyncio.wait_for(self.producer.flush(), timeout)
        except TimeoutError:
            self.say(f"producer: {self.in_flight} records still unanswered after {timeout:.0f} s")

    async def drain(self, timeout: float) -> None:
        """Let the consumer catch up with every acknowledged record, or `timeout` pass."""
        deadline = time.monotonic() + timeout
        consumed = {seq for seq, _, _ in self.ledger.consumed}
        while time.monotonic() < deadline and not set(self.ledger.acked) <= consumed:
            await asyncio.sleep(0.2)
            consumed = {seq for seq, _, _ in self.ledger.consumed}

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for closer in (self.producer.close, self.consumer.close):
            try:
                await asyncio.wait_for(closer(), 10)
            except Exception:  # noqa: BLE001 - closing after a demo must not hide its summary
                pass
