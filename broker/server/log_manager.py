"""The partition logs on this broker: opening, group-commit flushing, retention, shutdown.

One `PartitionLog` per hosted partition under `<data_dir>/<topic>-<partition>`, all
sharing one `FileHandleCache`. fsync never runs on the event loop: produces that must be
durable before they are acknowledged (flush.messages=1) wait for the next flush pass,
and one pass, in a worker thread, serves every produce waiting at that moment (group
commit). A clean shutdown flushes and closes every log, which writes the recovery point,
and leaves a marker so the next start knows no recovery scan was needed. A storage error
in one partition is logged and never stops the background loops for the others.
This module must never decode records or answer requests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from broker.config import BrokerConfig
from broker.log import FileHandleCache, LogConfig, OldRecordFormatError, PartitionLog, unreadable_dirs
from broker.log.compaction import COMPACT, compact
from broker.server.idempotence import ProducerStates

log = logging.getLogger(__name__)

CLEAN_SHUTDOWN_FILE = ".pybroker_cleanshutdown"

TopicPartition = tuple[str, int]


def log_config_for(config: BrokerConfig, topic_configs: dict[str, str]) -> LogConfig:
    """Broker defaults overridden by the topic's own configs (Kafka's precedence)."""
    def pick(key: str, default: int | None) -> int | None:
        return int(topic_configs[key]) if key in topic_configs else default

    return LogConfig(
        segment_bytes=pick("segment.bytes", config.log_segment_bytes),
        segment_ms=pick("segment.ms", config.log_roll_ms),
        retention_ms=pick("retention.ms", config.log_retention_ms),
        retention_bytes=pick("retention.bytes", config.log_retention_bytes),
        flush_messages=pick("flush.messages", config.log_flush_interval_messages),
        flush_ms=pick("flush.ms", config.log_flush_interval_ms),
        max_batch_bytes=pick("max.message.bytes", config.message_max_bytes),
        cleanup_policy=topic_configs.get("cleanup.policy", "delete"),
        delete_retention_ms=pick("delete.retention.ms", config.log_cleaner_delete_retention_ms),
    )


class LogManager:
    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.data_dir = Path(config.data_dir)
        self.handles = FileHandleCache(max_open=config.max_open_files)
        self.logs: dict[TopicPartition, PartitionLog] = {}
        self.clean_start = False
        self._dirty: set[PartitionLog] = set()
        self._sync_waiters: list[asyncio.Future] = []
        self._sync_wanted = asyncio.Event()
        self._arrivals: dict[TopicPartition, asyncio.Future] = {}
        self._tasks: list[asyncio.Task] = []
        self.producer_states = ProducerStates()  # idempotence: producer tables, snapshots
        # compaction: the offset below which t-p may be cleaned (its high watermark), None
        # for none; the broker wires the replica manager in (never clean uncommitted data)
        self.cleanable_offset: Callable[[str, int], int | None] = lambda topic, partition: None

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        """Raises OldRecordFormatError, before anything is served, if a partition directory
        holds records in a format this version does not read."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        unreadable = unreadable_dirs(self.data_dir)
        if unreadable:
            raise OldRecordFormatError("; ".join(unreadable))
        marker = self.data_dir / CLEAN_SHUTDOWN_FILE
        self.clean_start = marker.exists()
        marker.unlink(missing_ok=True)
        log.info("log manager on %s: previous shutdown was %s", self.data_dir,
                 "clean, no recovery scan needed" if self.clean_start else "not clean (or first start)")
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._sync_loop(), name="log-sync"),
                       loop.create_task(self._flush_scheduler(), name="log-flush-scheduler"),
                       loop.create_task(self._retention_loop(), name="log-retention"),
                       loop.create_task(self._cleaner_loop(), name="log-cleaner")]

    async def close(self) -> None:
        """Stop background work, flush and close every log, leave the clean-shutdown marker."""
        if not self._tasks:
            return  # never started: nothing was opened
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        logs = list(self.logs.values())
        failed = await asyncio.to_thread(_flush_all, logs)
        await self.producer_states.snapshot(logs, durable=True)  # idempotence: <offset>.snapshot
        for plog in logs:
            plog.close()
        self.logs.clear()
        self.handles.close()
        for waiter in self._sync_waiters:
            if not waiter.done():
                waiter.set_exception(ConnectionAbortedError("broker shutting down"))
        if failed:
            log.error("log manager closed; %d partition(s) could not be flushed: the next start recovers them",
                      len(failed))
            return
        (self.data_dir / CLEAN_SHUTDOWN_FILE).write_text("")
        log.info("log manager closed: every partition flushed, recovery points written")

    # -- partitions -------------------------------------------------------------------

    def get(self, topic: str, partition: int) -> PartitionLog | None:
        return self.logs.get((topic, partition))

    def open(self, topic: str, partition: int, topic_configs: dict[str, str]) -> PartitionLog:
        """The log of t-p, opened (and recovered if needed) on first use."""
        plog = self.logs.get((topic, partition))
        if plog is None:
            directory = self.data_dir / f"{topic}-{partition}"
            plog = PartitionLog.open(directory, log_config_for(self.config, topic_configs), handles=self.handles)
            self.logs[(topic, partition)] = plog
            clean = plog.recovery_point == plog.log_end_offset
            log.info("opened %s-%d: log start %d, log end %d, recovery point %d (%s)", topic, partition,
                     plog.log_start_offset, plog.log_end_offset, plog.recovery_point,
                     "clean: no recovery scan" if clean else "batches after the recovery point were re-checked")
        return plog

    async def delete(self, topic: str, partition: int) -> None:
        plog = self.logs.pop((topic, partition), None)
        self._dirty.discard(plog)
        self.appended(topic, partition)  # wake long polls on it: they answer UNKNOWN_TOPIC now
        if plog is not None:
            await asyncio.to_thread(plog.delete)

    # -- appends, durability and fetch wake-ups ---------------------------------------

    def appended(self, topic: str, partition: int) -> None:
        """Record that t-p grew: mark it dirty and wake fetches waiting on it."""
        plog = self.logs.get((topic, partition))
        if plog is not None:
            self._dirty.add(plog)
        self.notify(topic, partition)

    def notify(self, topic: str, partition: int) -> None:
        """Wake fetches waiting on t-p (it grew, or its high watermark moved)."""
        waiter = self._arrivals.pop((topic, partition), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def arrival(self, topic: str, partition: int) -> asyncio.Future:
        """A future completed by the next append to (or HW move of) t-p (shared by all who wait)."""
        fut = self._arrivals.get((topic, partition))
        if fut is None or fut.done():
            fut = self._arrivals[(topic, partition)] = asyncio.get_running_loop().create_future()
        return fut

    async def sync(self, plog: PartitionLog) -> None:
        """Wait until everything appended to `plog` so far is fsynced (group commit)."""
        self._dirty.add(plog)
        waiter = asyncio.get_running_loop().create_future()
        self._sync_waiters.append(waiter)
        self._sync_wanted.set()
        await waiter

    async def _sync_loop(self) -> None:
        while True:
            await self._sync_wanted.wait()
            self._sync_wanted.clear()
            logs, self._dirty = list(self._dirty), set()
            waiters, self._sync_waiters = self._sync_waiters, []
            failed = await asyncio.to_thread(_flush_all, logs)
            if failed:  # an fsync failure fails every produce that waited on this pass
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(failed[0])
                continue
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def _flush_scheduler(self) -> None:
        """Apply flush.messages / flush.ms in the background (Kafka's log flusher)."""
        interval = self.config.log_flush_scheduler_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            now_ms = int(time.monotonic() * 1000)   # flush.ms is a duration: never the wall clock
            due = [plog for plog in list(self._dirty) if plog.flush_due(now_ms)]
            if due:
                await asyncio.to_thread(_flush_all, due)
                try:
                    await self.producer_states.snapshot(due)  # idempotence: <offset>.snapshot
                except Exception:  # noqa: BLE001 - reported; the next pass tries again
                    log.exception("writing producer snapshots failed")

    async def _retention_loop(self) -> None:
        interval = self.config.log_retention_check_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            now_ms = int(time.time() * 1000)
            self.producer_states.expire(now_ms)  # idempotence: producer.id.expiration.ms
            for (topic, partition), plog in list(self.logs.items()):
                try:
                    deleted = await asyncio.to_thread(plog.apply_retention, now_ms)
                except Exception:  # noqa: BLE001 - one bad log must not stop retention for the others
                    log.exception("retention of %s-%d failed", topic, partition)
                    continue
                if deleted:
                    log.info("retention removed %s segment(s) of %s-%d", deleted, topic, partition)

    async def _cleaner_loop(self) -> None:
        """Compact the logs of `cleanup.policy=compact` topics (Kafka's log cleaner)."""
        interval = self.config.log_cleaner_backoff_ms / 1000
        while True:
            await asyncio.sleep(interval)
            now_ms = int(time.time() * 1000)
            for (topic, partition), plog in list(self.logs.items()):
                limit = self.cleanable_offset(topic, partition)
                if plog.config.cleanup_policy != COMPACT or limit is None:
                    continue
                try:
                    await asyncio.to_thread(compact, plog, now_ms, plog.config.delete_retention_ms, limit)
                except Exception:  # one bad log must not stop the cleaner for the others
                    log.exception("compacting %s failed; it stays as it was", plog.directory.name)


def _flush_all(logs: list[PartitionLog]) -> list[Exception]:
    """Flush every log, whatever fails; returns (and logs) the failures."""
    failed = []
    for plog in logs:
        try:
            plog.flush()
        except Exception as exc:  # noqa: BLE001 - reported here, the others still flush
            log.error("flushing %s failed: %s", plog.directory.name, exc)
            failed.append(exc)
    return failed
