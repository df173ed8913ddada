"""`GroupManager`: the broker's group coordinator role, one `PartitionCoordinator` per offsets partition led here.

Leadership hooks (what the replica manager calls, and what the replication code must
keep calling when it rewrites leadership changes):

    on_become_leader(topic, partition)   this broker now leads topic-partition; for an
                                         `__consumer_offsets` partition the groups are
                                         loaded from its log (in a task) and served
    on_resign(topic, partition)          it no longer does (follower, deleted, stopped):
                                         waiting requests get NOT_COORDINATOR

Both ignore every other topic and are cheap enough to call from any leadership path.
Requests are routed by `partition_for(group_id, partitions)`: FindCoordinator names the
leader of that partition (creating the topic on first use, through the controller),
the group calls are refused with NOT_COORDINATOR on a broker that does not lead it.
This module must never interpret group state (the core does) or touch files.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from broker.config import BrokerConfig
from broker.groups.coordinator import GroupConfig
from broker.groups.messages import ErrorCode, Event, GroupState, Response
from broker.groups.offsets_topic import OFFSETS_TOPIC, partition_for, topic_configs
from broker.groups.partition_io import PartitionIO
from broker.groups.shell import CoordinatorRefusedError, PartitionCoordinator, monotonic_ms, wall_clock_ms
from broker.server.to_controller import ControllerUnreachableError, ask_controller
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode as WireError
from client.protocol.messages import CreateTopicsRequest

log = logging.getLogger(__name__)


def group_config(config: BrokerConfig) -> GroupConfig:
    return GroupConfig(
        min_session_timeout_ms=config.group_min_session_timeout_ms,
        max_session_timeout_ms=config.group_max_session_timeout_ms,
        initial_rebalance_delay_ms=config.group_initial_rebalance_delay_ms,
        offsets_retention_ms=config.offsets_retention_minutes * 60_000,
    )


class GroupManager:
    def __init__(
        self,
        config: BrokerConfig,
        cache: Any,
        replicas: Any,
        appended: Callable[[str, int], None],
        controller: Callable[[], Any] = lambda: None,
        clock: Callable[[], int] = monotonic_ms,
        wall_clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.config = config
        self.cache = cache
        self.replicas = replicas
        self.controller = controller  # the broker's controller, once it has built one (else None)
        self._appended = appended
        self.clock = clock  # timeouts (monotonic)
        self.wall_clock = wall_clock  # timestamps users see
        self.group_config = group_config(config)
        self.coordinators: dict[int, PartitionCoordinator] = {}
        self._loads: set[asyncio.Task] = set()
        self._creating = asyncio.Lock()  # concurrent first FindCoordinators create the topic once

    # ---- leadership hooks -----------------------------------------------------------

    def on_become_leader(self, topic: str, partition: int) -> None:
        if topic != OFFSETS_TOPIC:
            return
        part = self.replicas.partitions.get((topic, partition))
        if part is None:
            return
        old = self.coordinators.get(partition)
        if old is not None and not old.closed and old.epoch == part.leader_epoch:
            return
        if old is not None:
            old.close()
        shell = PartitionCoordinator(
            partition, PartitionIO(part, self._appended), self.group_config, self.clock, self.wall_clock
        )
        self.coordinators[partition] = shell
        task = asyncio.get_running_loop().create_task(self._load(shell), name=f"load-offsets-{partition}")
        self._loads.add(task)
        task.add_done_callback(self._loads.discard)

    def on_resign(self, topic: str, partition: int) -> None:
        if topic != OFFSETS_TOPIC:
            return
        shell = self.coordinators.pop(partition, None)
        if shell is not None:
            shell.close()
            log.info("stopped coordinating groups of %s-%d", OFFSETS_TOPIC, partition)

    async def _load(self, shell: PartitionCoordinator) -> None:
        try:  # the reading (a whole offsets partition) runs off the event loop
            records = await asyncio.to_thread(lambda: list(shell.io.read_records()))
            count = shell.load(records)
        except Exception:
            log.exception("loading groups of %s-%d failed; its groups stay unavailable", OFFSETS_TOPIC, shell.partition)
            return
        log.info(
            "coordinating %d group(s) of %s-%d at leader epoch %d", count, OFFSETS_TOPIC, shell.partition, shell.epoch
        )

    async def close(self) -> None:
        for task in list(self._loads):
            task.cancel()
        for shell in self.coordinators.values():
            shell.close()
        self.coordinators.clear()

    # ---- routing --------------------------------------------------------------------

    def partitions(self) -> int | None:
        """The offsets topic's partition count, or None while it does not exist."""
        topic = self.cache.topic(OFFSETS_TOPIC)
        return len(topic.assignment) if topic is not None else None

    async def find_coordinator(self, group_id: str) -> Any:
        """The live broker leading the group's partition (a `BrokerInfo`); creates the
        offsets topic on first use. Raises CoordinatorRefusedError while there is none."""
        count = self.partitions()
        if count is None:
            await self._create_offsets_topic()
            count = self.partitions()
            if count is None:
                raise CoordinatorRefusedError(
                    ErrorCode.COORDINATOR_NOT_AVAILABLE, f"{OFFSETS_TOPIC} is being created; retry shortly"
                )
        partition = partition_for(group_id, count)
        leader = self.cache.leader(OFFSETS_TOPIC, partition)
        broker = self.cache.brokers.get(leader)
        if broker is None:
            raise CoordinatorRefusedError(
                ErrorCode.COORDINATOR_NOT_AVAILABLE,
                f"{OFFSETS_TOPIC}-{partition} has no live leader yet; retry shortly",
            )
        return broker

    async def _create_offsets_topic(self) -> None:
        controller = self.controller()
        if controller is None:
            return
        if not controller.active:  # only the controller creates topics: ask it (clients ask any broker)
            await self._ask_controller_to_create()
            return
        async with self._creating:
            if self.partitions() is not None:
                return
            cfg = self.config
            rf = max(1, min(cfg.offsets_topic_replication_factor, len(self.cache.live_broker_ids())))
            try:
                refusal = await controller.create_topic(
                    OFFSETS_TOPIC, cfg.offsets_topic_num_partitions, rf, topic_configs(cfg.offsets_topic_segment_bytes)
                )
            except Exception as exc:  # noqa: BLE001 - coord trouble or a race: the client retries FindCoordinator
                log.warning("creating %s failed: %s; clients will retry", OFFSETS_TOPIC, exc)
                return
        if refusal is None:
            log.info(
                "created %s: %d partitions, replication factor %d", OFFSETS_TOPIC, cfg.offsets_topic_num_partitions, rf
            )
        elif refusal[0] != WireError.TOPIC_ALREADY_EXISTS:  # else someone else won the race
            log.warning("creating %s failed: %s", OFFSETS_TOPIC, refusal[1])

    async def _ask_controller_to_create(self) -> None:
        cfg = self.config
        rf = max(1, min(cfg.offsets_topic_replication_factor, len(self.cache.live_broker_ids())))
        request = CreateTopicsRequest(
            timeout_ms=cfg.controller_socket_timeout_ms,
            topics=[
                CreateTopicsRequest.CreatableTopic(
                    name=OFFSETS_TOPIC,
                    num_partitions=cfg.offsets_topic_num_partitions,
                    replication_factor=rf,
                    configs=[
                        CreateTopicsRequest.CreateableTopicConfig(name=k, value=v)
                        for k, v in topic_configs(cfg.offsets_topic_segment_bytes).items()
                    ],
                )
            ],
        )
        try:
            await ask_controller(
                self.cache, cfg.broker_id, ApiKey.CREATE_TOPICS, request, timeout_ms=cfg.controller_socket_timeout_ms
            )
        except ControllerUnreachableError as exc:  # the client retries FindCoordinator
            log.warning("asking the controller to create %s failed: %s", OFFSETS_TOPIC, exc)

    def coordinator_for(self, group_id: str) -> PartitionCoordinator:
        count = self.partitions()
        partition = partition_for(group_id, count) if count is not None else -1
        shell = self.coordinators.get(partition)
        if shell is None or shell.closed:
            raise CoordinatorRefusedError(
                ErrorCode.NOT_COORDINATOR,
                f"broker {self.config.broker_id} is not the coordinator of group {group_id!r}; "
                "find the coordinator again",
            )
        return shell

    async def request(self, group_id: str, make: Callable[[int], Event]) -> Response:
        return await self.coordinator_for(group_id).request(group_id, make)

    def list_groups(self) -> list[tuple[str, str | None, GroupState]]:
        """(group id, protocol type, state) of every group this broker coordinates."""
        return sorted(
            (g.group_id, g.protocol_type, g.state)
            for shell in self.coordinators.values()
            if not shell.loading
            for g in shell.groups.values()
        )

    def loading(self) -> bool:
        """Whether some offsets partition led here is still being loaded (its groups are
        missing from `list_groups`, which Kafka reports as COORDINATOR_LOAD_IN_PROGRESS)."""
        return any(shell.loading and not shell.closed for shell in self.coordinators.values())
