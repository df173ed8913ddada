"""The partition replicas this broker hosts, kept in step with the controller's orders.

It is the broker side of LeaderAndIsr and StopReplica: `leader_and_isr` opens logs and
turns each entry into a leader or follower order for that partition's replication core
(stale epochs and orders meant for an earlier run of this broker are ignored by the
core), then tells the fetchers which leaders to copy from. It ticks every leader
(ISR lag checks, produce timeouts) and checkpoints every replica's high watermark to
`replication-offset-checkpoint` (one per log directory, for the partitions it holds) so
a restart does not lose it. When a log directory goes offline its replicas stop here
and stay offline for this run: requests and the controller's orders naming them get
KAFKA_STORAGE_ERROR, which tells the controller to lead them elsewhere. Request handlers
look partitions up here and get a typed refusal when this broker cannot serve one. It
must never write to coord itself (ISR writes go through the injected proposer).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from broker.config import BrokerConfig
from broker.log.checkpoint import write_checkpoint
from broker.log.log_dirs import is_disk_failure
from broker.metadata.cache import MetadataCache
from broker.refusal import RequestRefusedError
from broker.replication.messages import ProposeIsr
from broker.server.log_manager import LogManager
from broker.server.partition import Partition
from client.protocol.errors import ErrorCode

log = logging.getLogger(__name__)

HW_CHECKPOINT = "replication-offset-checkpoint"


class PartitionRefusedError(RequestRefusedError):
    """A request names a partition this broker cannot serve; carries code and message."""


class LeadershipListener(Protocol):
    """Told when this broker starts or stops leading a partition (the group coordinator)."""

    def on_become_leader(self, topic: str, partition: int) -> None: ...

    def on_resign(self, topic: str, partition: int) -> None: ...


def read_hw_checkpoint(path: Path) -> dict[tuple[str, int], int]:
    """Kafka's replication-offset-checkpoint: version, count, then `topic partition hw`."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return {}
    try:
        count = int(lines[1])
        out = {}
        for line in lines[2 : 2 + count]:
            topic, partition, hw = line.split()
            out[(topic, int(partition))] = int(hw)
        return out
    except (IndexError, ValueError):
        log.warning("%s is not a valid checkpoint; high watermarks restart from the replicas' logs", path)
        return {}


class ReplicaManager:
    def __init__(
        self,
        config: BrokerConfig,
        logs: LogManager,
        cache: MetadataCache,
        *,
        changed: Callable[[str, int], None] = lambda topic, partition: None,
        propose_isr: Callable[[Partition, ProposeIsr], None] | None = None,
        leadership_listener: Callable[[], LeadershipListener | None] = lambda: None,
        followers_changed: Callable[[], None] = lambda: None,
    ) -> None:
        """`changed(topic, partition)`: t-p's high watermark moved (wakes its fetches);
        `followers_changed()`: the set of partitions we follow (or their leaders) changed (the fetchers);
        `propose_isr`: sends a leader's ISR change to be written (needed once orders arrive);
        `leadership_listener()`: who hears of leadership changes (the groups, built after us)."""
        self.config = config
        self.broker_id = config.broker_id
        self.logs = logs
        self.cache = cache
        self.partitions: dict[tuple[str, int], Partition] = {}
        self.broker_epoch = -1  # czxid of our /brokers/ids node (KIP-380)
        self.controller_epoch = -1  # the highest controller epoch that gave us an order
        self.propose_isr = propose_isr
        self._changed = changed
        self._followers_changed = followers_changed
        self._saved_hw: dict[tuple[str, int], int] = {}
        for directory in config.log_directories():
            try:
                self._saved_hw.update(read_hw_checkpoint(Path(directory) / HW_CHECKPOINT))
            except OSError as exc:  # the log manager finds the directory unusable too
                log.error("cannot read %s: %s", Path(directory) / HW_CHECKPOINT, exc)
        self.offline: dict[tuple[str, int], str] = {}  # replicas in an offline log directory -> why
        self._tasks: list[asyncio.Task] = []
        self._checkpointing: asyncio.Future | None = None  # the periodic write's worker thread
        self.leadership_listener = leadership_listener  # groups: on_become_leader / on_resign

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._tick_loop(), name="replica-ticks"),
            loop.create_task(self._checkpoint_loop(), name="hw-checkpoint"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._checkpointing is not None:  # cancelling its task left the thread writing the same file
            await asyncio.gather(self._checkpointing, return_exceptions=True)
        for part in self.partitions.values():
            part.stop()
        if self.partitions:
            self._write_hw_checkpoint()

    def set_broker_epoch(self, epoch: int) -> None:
        self.broker_epoch = epoch
        for part in self.partitions.values():
            part.set_broker_epoch(epoch)

    # -- LeaderAndIsr / StopReplica ------------------------------------------------------------

    def leader_and_isr(
        self, entries: list[dict[str, Any]], configs: dict[str, dict[str, str]], controller_epoch: int
    ) -> list[dict[str, Any]]:
        """Apply the controller's orders; one result per entry."""
        results = []
        for e in entries:
            topic, p = e["topic"], e["partition"]
            if self.broker_id not in e["replicas"]:
                results.append({"topic": topic, "partition": p, "error": int(ErrorCode.NONE)})
                continue
            if (topic, p) in self.offline:
                results.append({"topic": topic, "partition": p, "error": int(ErrorCode.KAFKA_STORAGE_ERROR)})
                continue
            try:
                part = self.partitions.get((topic, p)) or self._open(topic, p, configs.get(topic, {}))
            except OSError as exc:  # its directory is offline, broke while opening it, or is full
                log.error("cannot host %s-%d: %s", topic, p, exc)
                if is_disk_failure(exc):  # a full disk: the controller's next order tries again
                    self.offline[(topic, p)] = str(exc)
                results.append({"topic": topic, "partition": p, "error": int(ErrorCode.KAFKA_STORAGE_ERROR)})
                continue
            was = (part.leader, part.leader_epoch)
            was_leading = part.is_leader
            part.become(
                leader=e["leader"],
                leader_epoch=e["leader_epoch"],
                isr=e["isr"],
                replicas=e["replicas"],
                zk_version=e["zk_version"],
                broker_epoch=self.broker_epoch,
                controller_epoch=controller_epoch,
            )
            if (part.leader, part.leader_epoch) != was:
                role = "leading" if part.is_leader else f"following broker {part.leader} in"
                log.info(
                    "%s %s-%d at leader epoch %d (log end %d, high watermark %d)",
                    role,
                    topic,
                    p,
                    part.leader_epoch,
                    part.log.log_end_offset,
                    part.high_watermark,
                )
                self._tell_listener(topic, p, was_leading, part.is_leader)
            results.append({"topic": topic, "partition": p, "error": int(ErrorCode.NONE)})
        self._followers_changed()
        return results

    def _tell_listener(self, topic: str, partition: int, was_leading: bool, leading: bool) -> None:
        """A new leader epoch while leading counts as becoming leader again (state reloads)."""
        listener = self.leadership_listener()
        if listener is None:
            return
        if leading:
            listener.on_become_leader(topic, partition)
        elif was_leading:
            listener.on_resign(topic, partition)

    def _open(self, topic: str, partition: int, configs: dict[str, str]) -> Partition:
        assert self.propose_isr is not None, "the ISR proposer is wired before any order arrives"
        plog = self.logs.open(topic, partition, configs)
        min_isr = int(configs.get("min.insync.replicas", self.config.min_insync_replicas))
        part = Partition(
            topic,
            partition,
            self.broker_id,
            plog,
            broker_epoch=self.broker_epoch,
            high_watermark=self._saved_hw.get((topic, partition), 0),
            min_insync_replicas=min_isr,
            replica_lag_time_max_ms=self.config.replica_lag_time_max_ms,
            propose_isr=self.propose_isr,
            on_change=lambda: self._changed(topic, partition),
        )
        self.partitions[(topic, partition)] = part
        return part

    def dir_offline(self, directory: Path, gone: list[tuple[str, int]]) -> None:
        """Log directory `directory` went offline with the logs of `gone`: stop those
        replicas (waiting produces are refused, the fetchers let go of them)."""
        for tp in gone:
            self.offline[tp] = f"log directory {directory} is offline"
            part = self.partitions.pop(tp, None)
            if part is not None:
                self._tell_listener(tp[0], tp[1], part.is_leader, False)
                part.stop()
        self._followers_changed()

    async def stop_replica(self, topic: str, partition: int, *, delete: bool) -> None:
        if delete:
            self.offline.pop((topic, partition), None)
        part = self.partitions.pop((topic, partition), None)
        if part is not None:
            self._tell_listener(topic, partition, part.is_leader, False)
            part.stop()
            self._followers_changed()
        self._saved_hw.pop((topic, partition), None)
        if delete:
            await self.logs.delete(topic, partition)

    # -- lookups for request handlers --------------------------------------------------------

    def hosted(self, topic: object, partition: object) -> Partition:
        """The replica if this broker hosts it (leader or follower), else PartitionRefusedError."""
        if not isinstance(topic, str) or type(partition) is not int:
            raise PartitionRefusedError(ErrorCode.INVALID_REQUEST, "topic must be a string and partition an integer")
        part = self.partitions.get((topic, partition))
        if part is not None:
            return part
        if (topic, partition) in self.offline:
            raise PartitionRefusedError(
                ErrorCode.KAFKA_STORAGE_ERROR,
                f"broker {self.broker_id} cannot serve {topic}-{partition}: {self.offline[(topic, partition)]}",
            )
        if not self.cache.has_partition(topic, partition):
            raise PartitionRefusedError(
                ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"this broker knows no partition {topic}-{partition}"
            )
        raise PartitionRefusedError(
            ErrorCode.NOT_LEADER_OR_FOLLOWER,
            f"broker {self.broker_id} hosts no replica of {topic}-{partition} "
            f"(leader: {self.cache.leader(topic, partition)})",
        )

    def leader_partition(self, topic: object, partition: object) -> Partition:
        """The partition if this broker leads it; else PartitionRefusedError with the reason."""
        part = self.hosted(topic, partition)
        if not part.is_leader:
            raise PartitionRefusedError(
                ErrorCode.NOT_LEADER_OR_FOLLOWER,
                f"broker {self.broker_id} does not lead {topic}-{partition} "
                f"(leader: {part.leader}, leader epoch {part.leader_epoch})",
            )
        return part

    def following(self, leader: int) -> list[Partition]:
        return [p for p in self.partitions.values() if not p.is_leader and p.leader == leader]

    def followed_leaders(self) -> set[int]:
        return {p.leader for p in self.partitions.values() if not p.is_leader and p.leader >= 0}

    # -- background ----------------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        """Tick every leader: ISR lag checks and produce timeouts. Nothing else waits for a
        tick (the high watermark moves on fetches), so a quarter of the lag limit (at most
        1 s) is fine-grained enough and keeps 10,000 partitions cheap."""
        interval = min(1.0, max(0.05, self.config.replica_lag_time_max_ms / 4000))
        while True:
            await asyncio.sleep(interval)
            for part in list(self.partitions.values()):
                if part.is_leader:
                    part.tick()

    async def _checkpoint_loop(self) -> None:
        interval = self.config.replica_high_watermark_checkpoint_interval_ms / 1000
        last: dict[tuple[str, int], int] = {}
        while True:
            await asyncio.sleep(interval)
            now = {tp: p.high_watermark for tp, p in self.partitions.items()}
            if now != last:
                self._checkpointing = asyncio.ensure_future(asyncio.to_thread(self._write_hw_checkpoint, now))
                await asyncio.shield(self._checkpointing)
                last = now

    def _write_hw_checkpoint(self, hws: dict[tuple[str, int], int] | None = None) -> None:
        """Each online log directory's checkpoint, for the partitions it holds; a directory
        whose write fails is reported to the log manager (a broken disk goes offline)."""
        hws = hws if hws is not None else {tp: p.high_watermark for tp, p in self.partitions.items()}
        self._saved_hw.update(hws)
        per_dir: dict[Path, list[tuple[str, int, int]]] = {d: [] for d in self.logs.dirs.online()}
        for (t, p), hw in sorted(self._saved_hw.items()):
            home = self.logs.location(t, p)
            if home in per_dir:
                per_dir[home].append((t, p, hw))
        for directory, entries in per_dir.items():
            try:
                write_checkpoint(directory / HW_CHECKPOINT, entries)  # type: ignore[arg-type]  # rows of (topic, partition, hw): the writer prints any fields
            except OSError as exc:
                log.error("cannot write %s: %s", directory / HW_CHECKPOINT, exc)
                self.logs.storage_error(directory, exc)
