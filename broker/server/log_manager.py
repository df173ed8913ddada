"""The partition logs on this broker: opening, group-commit flushing, retention, shutdown,
and taking a failed log directory offline.

One `PartitionLog` per hosted partition under `<log dir>/<topic>-<partition>`, spread over
the log directories of `log.dirs` (`broker.log.log_dirs` decides where), all sharing one
`FileHandleCache`. fsync never runs on the event loop: produces that must be durable
before they are acknowledged (flush.messages=1) wait for the next flush pass, and one
pass, in a worker thread, serves every produce waiting at that moment (group commit). A
clean shutdown flushes and closes every log, which writes the recovery point, and leaves
a marker in each directory so the next start knows no recovery scan was needed.

A storage error in one partition is logged and never stops the background loops for the
others. An I/O error that means a broken disk (not a full one), met by any operation on
any thread, takes that log's whole directory offline (Kafka's log-directory failure): its
logs are closed and dropped and `on_dir_offline` tells the broker which partitions went,
so their leadership moves elsewhere; with no directory left the broker must stop.
Who follows the logs (fetch wake-ups, producer-state snapshots, compaction's limit, the
broker on a failed directory) is given as hooks at construction. This module must never
decode records, answer requests, wake fetches or keep producer state itself.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from broker.config import BrokerConfig
from broker.log import FileHandleCache, LogConfig, OldRecordFormatError, PartitionLog, unreadable_dirs
from broker.log.compaction import compact
from broker.log.errors import LogDirOfflineError
from broker.log.log_dirs import LogDirs, is_disk_failure

log = logging.getLogger(__name__)

CLEAN_SHUTDOWN_FILE = ".pybroker_cleanshutdown"
FULL_DISK_WARN_INTERVAL_S = 60.0  # a full disk fails every write: say so once a minute, not per write

TopicPartition = tuple[str, int]


def log_config_for(config: BrokerConfig, topic_configs: dict[str, str]) -> LogConfig:
    """Broker defaults overridden by the topic's own configs (Kafka's precedence)."""

    def pick(key: str, default: int) -> int:
        return int(topic_configs[key]) if key in topic_configs else default

    def pick_optional(key: str, default: int | None) -> int | None:
        return int(topic_configs[key]) if key in topic_configs else default

    return LogConfig(
        segment_bytes=pick("segment.bytes", config.log_segment_bytes),
        segment_ms=pick("segment.ms", config.log_roll_ms),
        retention_ms=pick("retention.ms", config.log_retention_ms),
        retention_bytes=pick("retention.bytes", config.log_retention_bytes),
        flush_messages=pick_optional("flush.messages", config.log_flush_interval_messages),
        flush_ms=pick_optional("flush.ms", config.log_flush_interval_ms),
        max_batch_bytes=pick("max.message.bytes", config.message_max_bytes),
        cleanup_policy=topic_configs.get("cleanup.policy", config.log_cleanup_policy),
        delete_retention_ms=pick("delete.retention.ms", config.log_cleaner_delete_retention_ms),
    )


def _nothing(*_args: object) -> None:
    return None


async def _nothing_async(*_args: object) -> None:
    return None


class LogManager:
    """The hooks, all given at construction, are how other parts follow the logs:
    `changed(topic, partition)` when t-p grew or went (fetch wake-ups), `flushed(logs,
    durable)` after a flush pass (producer-state snapshots), `retention_pass(now_ms)` at each
    retention check, `cleanable_offset(topic, partition)` the offset below which compaction
    may clean (the high watermark, never uncommitted data; None for none), `on_dir_offline`
    (on the event loop) when a log directory went offline, with the partitions it took,
    `flush_timed(ms)` after each partition flush that fsynced something (from the worker
    thread that ran it: Kafka's LogFlushRateAndTimeMs)."""

    def __init__(
        self,
        config: BrokerConfig,
        *,
        changed: Callable[[str, int], None] = _nothing,
        flushed: Callable[[list[PartitionLog], bool], Awaitable[None]] = _nothing_async,
        retention_pass: Callable[[int], None] = _nothing,
        cleanable_offset: Callable[[str, int], int | None] = _nothing,
        on_dir_offline: Callable[[Path, list[TopicPartition]], None] = _nothing,
        flush_timed: Callable[[float], None] = _nothing,
    ) -> None:
        self.config = config
        self.dirs = LogDirs(config.log_directories())
        self.handles = FileHandleCache(max_open=config.max_open_files)
        self.logs: dict[TopicPartition, PartitionLog] = {}
        self.clean_start = False
        self._dirty: set[PartitionLog] = set()
        self._sync_waiters: list[tuple[PartitionLog, asyncio.Future]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: set[asyncio.Task] = set()
        self.on_dir_offline = on_dir_offline
        self._changed = changed
        self._flushed = flushed
        self._retention_pass = retention_pass
        self.cleanable_offset = cleanable_offset
        self._flush_timed = flush_timed
        self._sync_wanted = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._full_warned: dict[Path, float] = {}  # directory -> monotonic time of its last "full" warning

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        """Raises, before anything is served, OldRecordFormatError if a partition directory
        holds records in a format this version does not read, and LogDirOfflineError if no
        log directory can be used (one that cannot is offline from the start)."""
        self._loop = asyncio.get_running_loop()
        self.dirs.scan()
        clean = []
        for directory in self.dirs.online():
            try:
                unreadable = unreadable_dirs(directory)
                if unreadable:
                    raise OldRecordFormatError("; ".join(unreadable))
                marker = directory / CLEAN_SHUTDOWN_FILE
                clean.append(marker.exists())
                marker.unlink(missing_ok=True)
            except OldRecordFormatError:
                raise
            except OSError as exc:
                self._take_offline(directory, exc)
        if not self.dirs.online():
            raise LogDirOfflineError(f"no usable log directory: {self.dirs.describe_offline()}")
        self.clean_start = bool(clean) and all(clean)
        log.info(
            "log manager on %s: previous shutdown was %s",
            ", ".join(map(str, self.dirs.online())),
            "clean, no recovery scan needed" if self.clean_start else "not clean (or first start)",
        )
        loop = self._loop
        self._tasks = [
            loop.create_task(self._sync_loop(), name="log-sync"),
            loop.create_task(self._flush_scheduler(), name="log-flush-scheduler"),
            loop.create_task(self._retention_loop(), name="log-retention"),
            loop.create_task(self._cleaner_loop(), name="log-cleaner"),
        ]

    async def close(self) -> None:
        """Stop background work, flush and close every log, leave the clean-shutdown marker."""
        if not self._tasks:
            return  # never started: nothing was opened
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        logs = list(self.logs.values())
        failed = await asyncio.to_thread(_flush_all, logs, self._flush_timed)
        await self._flushed(logs, True)
        for plog in logs:
            plog.close()
        self.logs.clear()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        self.handles.close()
        for _, waiter in self._sync_waiters:
            if not waiter.done():
                waiter.set_exception(ConnectionAbortedError("broker shutting down"))
        if failed:
            log.error(
                "log manager closed; %d partition(s) could not be flushed: the next start recovers them", len(failed)
            )
            return
        for directory in self.dirs.online():
            try:
                (directory / CLEAN_SHUTDOWN_FILE).write_text("")
            except OSError as exc:  # no marker: the next start re-checks this directory's logs
                log.error("cannot mark %s as cleanly shut down: %s", directory, exc)
        log.info("log manager closed: every partition flushed, recovery points written")

    # -- partitions -------------------------------------------------------------------

    def get(self, topic: str, partition: int) -> PartitionLog | None:
        return self.logs.get((topic, partition))

    def location(self, topic: str, partition: int) -> Path | None:
        """The log directory holding t-p, if it has one."""
        return self.dirs.location(f"{topic}-{partition}")

    def open(self, topic: str, partition: int, topic_configs: dict[str, str]) -> PartitionLog:
        """The log of t-p, opened (and recovered if needed) on first use; LogDirOfflineError
        if its log directory is offline."""
        plog = self.logs.get((topic, partition))
        if plog is None:
            name = f"{topic}-{partition}"
            home = self.dirs.place(name)
            try:
                plog = PartitionLog.open(
                    home / name,
                    log_config_for(self.config, topic_configs),
                    handles=self.handles,
                    on_storage_error=functools.partial(self.storage_error, home),
                )
            except OSError as exc:
                self.storage_error(home, exc)
                raise
            self.logs[(topic, partition)] = plog
            clean = plog.recovery_point == plog.log_end_offset
            log.info(
                "opened %s-%d: log start %d, log end %d, recovery point %d (%s)",
                topic,
                partition,
                plog.log_start_offset,
                plog.log_end_offset,
                plog.recovery_point,
                "clean: no recovery scan" if clean else "batches after the recovery point were re-checked",
            )
        return plog

    async def delete(self, topic: str, partition: int) -> None:
        plog = self.logs.pop((topic, partition), None)
        self._dirty.discard(plog)
        self.appended(topic, partition)  # wake long polls on it: they answer UNKNOWN_TOPIC now
        if plog is not None:
            await asyncio.to_thread(plog.delete)
        self.dirs.forget(f"{topic}-{partition}")

    # -- log directory failure ------------------------------------------------------------

    def storage_error(self, directory: Path, exc: BaseException) -> None:
        """An OSError met by an operation in log directory `directory`, on any thread. A
        broken disk (not a full one) takes the directory offline, on the event loop; a full
        one is logged (at most once a minute per directory), since the refused writes show
        up elsewhere only as producer timeouts."""
        if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
            now = time.monotonic()
            if now - self._full_warned.get(directory, -FULL_DISK_WARN_INTERVAL_S) >= FULL_DISK_WARN_INTERVAL_S:
                self._full_warned[directory] = now
                log.warning(
                    "log directory %s is full (%s): writes to its partitions are refused with "
                    "KAFKA_STORAGE_ERROR until space is freed",
                    directory,
                    exc,
                )
            return
        if not is_disk_failure(exc) or not self.dirs.is_online(directory):
            return
        if self._loop is None or self._loop.is_closed():
            self._take_offline(directory, exc)  # not started: nothing runs concurrently
        else:  # never inline: the caller may hold that very log's locks
            self._loop.call_soon_threadsafe(self._take_offline, directory, exc)

    def _take_offline(self, directory: Path, exc: BaseException) -> None:
        if not self.dirs.fail(directory, f"{type(exc).__name__}: {exc}"):
            return
        gone = sorted(tp for tp, plog in self.logs.items() if plog.directory.parent == directory)
        left = self.dirs.online()
        log.critical(
            "log directory %s is OFFLINE after an I/O error (%s): its %d partition(s) are no longer "
            "served by this broker (their replicas elsewhere take over); %s. Replace or repair the disk, "
            "then restart the broker",
            directory,
            exc,
            len(gone),
            f"{len(left)} log director{'y' if len(left) == 1 else 'ies'} still online"
            if left
            else "NO log directory is left",
        )
        closing = []
        for tp in gone:
            plog = self.logs.pop(tp)
            self._dirty.discard(plog)
            closing.append(plog)
            self._changed(*tp)
        for plog, waiter in self._sync_waiters:  # never acknowledge what a broken disk may not hold
            if plog in closing and not waiter.done():
                waiter.set_exception(
                    LogDirOfflineError(
                        f"{plog.directory.name}: log directory {directory} went offline before the records were fsynced"
                    )
                )
        if closing and self._loop is not None and not self._loop.is_closed():
            task = self._loop.create_task(asyncio.to_thread(_close_all, closing))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        else:
            _close_all(closing)
        self.on_dir_offline(directory, gone)

    # -- appends and durability -------------------------------------------------------

    def appended(self, topic: str, partition: int) -> None:
        """Record that t-p grew: mark it dirty and tell `changed` (which wakes fetches)."""
        plog = self.logs.get((topic, partition))
        if plog is not None:
            self._dirty.add(plog)
        self._changed(topic, partition)

    async def sync(self, plog: PartitionLog) -> None:
        """Wait until everything appended to `plog` so far is fsynced (group commit)."""
        self._dirty.add(plog)
        waiter = asyncio.get_running_loop().create_future()
        self._sync_waiters.append((plog, waiter))
        self._sync_wanted.set()
        await waiter

    async def _sync_loop(self) -> None:
        while True:
            await self._sync_wanted.wait()
            self._sync_wanted.clear()
            logs, self._dirty = list(self._dirty), set()
            waiters, self._sync_waiters = self._sync_waiters, []
            failed = await asyncio.to_thread(_flush_all, logs, self._flush_timed)
            if failed:  # an fsync failure fails every produce that waited on this pass
                for _, waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(failed[0])
                continue
            for _, waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def _flush_scheduler(self) -> None:
        """Apply flush.messages / flush.ms in the background (Kafka's log flusher)."""
        interval = self.config.log_flush_scheduler_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            now_ms = int(time.monotonic() * 1000)  # flush.ms is a duration: never the wall clock
            due = [plog for plog in list(self._dirty) if plog.flush_due(now_ms)]
            if due:
                await asyncio.to_thread(_flush_all, due, self._flush_timed)
                try:
                    await self._flushed(due, False)
                except Exception:  # reported; the next pass tries again
                    log.exception("after-flush work (producer snapshots) failed")

    async def _retention_loop(self) -> None:
        interval = self.config.log_retention_check_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            now_ms = int(time.time() * 1000)
            self._retention_pass(now_ms)
            for (topic, partition), plog in list(self.logs.items()):
                try:
                    deleted = await asyncio.to_thread(plog.apply_retention, now_ms)
                except Exception:  # one bad log must not stop retention for the others
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
                if not plog.config.compacted or limit is None:
                    continue
                try:
                    await asyncio.to_thread(compact, plog, now_ms, plog.config.delete_retention_ms, limit)
                except Exception as exc:  # one bad log must not stop the cleaner for the others
                    log.exception("compacting %s failed; it stays as it was", plog.directory.name)
                    self.storage_error(plog.directory.parent, exc)


def _close_all(logs: list[PartitionLog]) -> None:
    for plog in logs:
        try:
            plog.close()
        except Exception as exc:  # noqa: BLE001 - a broken disk: the descriptors are what matters
            log.error("closing %s failed: %s", plog.directory.name, exc)


def _flush_all(logs: list[PartitionLog], timed: Callable[[float], None]) -> list[Exception]:
    """Flush every log, whatever fails; returns (and logs) the failures. Every flush that
    fsynced something (flush.messages, flush.ms, a roll, shutdown) is timed on the
    monotonic clock and handed to `timed` in milliseconds."""
    failed = []
    for plog in logs:
        try:
            start = time.monotonic()
            if plog.flush():
                timed((time.monotonic() - start) * 1000.0)
        except Exception as exc:  # noqa: BLE001 - reported here, the others still flush
            log.error("flushing %s failed: %s", plog.directory.name, exc)
            failed.append(exc)
    return failed
