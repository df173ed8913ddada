"""The controller: the one broker that decides partition leadership and writes it to coord.

It wins the ephemeral /controller znode (bumping /controller_epoch in the same multi, so
a deposed controller's later writes fail their epoch check), creates and deletes topics,
and elects partition leaders (first live in-sync replica in assignment order, leader
epoch + 1, unclean election off), writing each partition's state znode conditionally on
its zkVersion. Then it tells the brokers that host the partitions (LeaderAndIsr); so far
only itself, called in-process through `ReplicaListener`. A broker that loses the race
is a standby: it keeps an exists watch on /controller and races again when the node
vanishes (its holder's session ended), so a cluster always regains a controller. It must
never touch logs or sockets itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from client.protocol.errors import ErrorCode
from coord.protocol.errors import BadVersionError, NodeExistsError, NoNodeError
from coord.protocol.errors import ErrorCode as CoordErrorCode

from broker.metadata import znodes as Z
from broker.metadata.store import MetadataStore
from broker.metadata.validation import Refusal, assign_replicas, check_new_topic

log = logging.getLogger(__name__)


class ReplicaListener(Protocol):
    """The broker side of LeaderAndIsr / StopReplica."""

    async def become_leader(self, topic: str, partition: int, state: Z.PartitionState,
                            replicas: list[int], configs: dict[str, str]) -> None: ...

    async def stop_replica(self, topic: str, partition: int, *, delete: bool) -> None: ...


class NotControllerError(RuntimeError):
    """Another live broker holds /controller; this one must not write leadership."""


class Controller:
    def __init__(self, store: MetadataStore, replicas: ReplicaListener) -> None:
        self.store = store
        self.coord = store.coord
        self.cache = store.cache
        self.broker_id = store.me.broker_id
        self.replicas = replicas
        self.epoch = -1
        self._epoch_zk_version = -1
        self._contending: asyncio.Task | None = None

    @property
    def active(self) -> bool:
        """True while this broker holds /controller (as far as its last election knows)."""
        return self.epoch >= 0

    # -- election ---------------------------------------------------------------------

    async def start(self) -> None:
        """Load the metadata, then contend: win and lead the partitions, or stand by."""
        self.epoch, self._epoch_zk_version = -1, -1
        await self.store.load_all()
        await self._contend()

    async def _contend(self) -> None:
        if not await self._elect():
            return
        for name in sorted(self.cache.topics):
            await self._elect_leaders(name)

    async def _elect(self) -> bool:
        """Race for /controller; True if won, False if another live broker holds it."""
        try:
            await self.coord.create(Z.CONTROLLER_EPOCH, b"0")
        except NodeExistsError:
            pass
        for _ in range(5):
            data, stat = await self.coord.get(Z.CONTROLLER_EPOCH)
            epoch = int(data or b"0") + 1
            txn = self.coord.transaction()
            txn.create(Z.CONTROLLER, Z.encode_controller(self.broker_id, int(time.time() * 1000)), ephemeral=True)
            txn.set_data(Z.CONTROLLER_EPOCH, str(epoch).encode(), version=stat.version)
            try:
                await _commit(txn)
            except (NodeExistsError, BadVersionError):
                holder = await self._other_holder()
                if holder is not None:
                    self.cache.controller_id = holder
                    log.info("broker %d is the controller; broker %d stands by", holder, self.broker_id)
                    return False
                continue
            self.epoch, self._epoch_zk_version = epoch, stat.version + 1
            self.cache.controller_id = self.broker_id
            log.info("broker %d is the controller (controller epoch %d)", self.broker_id, epoch)
            return True
        raise NotControllerError("could not become controller: /controller kept changing hands")

    async def _other_holder(self) -> int | None:
        """The live broker holding /controller, watched so its end starts a new race; None
        if the node is gone or was left by this broker's previous (dead) incarnation,
        which is removed so the next attempt can win."""
        stat = await self.coord.exists(Z.CONTROLLER, watch=self._on_controller_changed)
        if stat is None:
            return None
        try:
            data, stat = await self.coord.get(Z.CONTROLLER)
        except NoNodeError:
            return None
        holder = Z.decode_controller(data)
        if holder != self.broker_id:
            return holder
        try:
            await self.coord.delete(Z.CONTROLLER, version=stat.version)
        except NoNodeError:
            pass
        return None

    def _on_controller_changed(self, event: Any) -> None:
        """/controller changed or vanished: if this broker stands by, race again."""
        if self.active or (self._contending is not None and not self._contending.done()):
            return
        self._contending = asyncio.get_running_loop().create_task(self._recontend())

    async def _recontend(self) -> None:
        try:
            await self._contend()
        except Exception as exc:  # coord unreachable mid-race: the rejoin path starts over
            log.warning("controller election by broker %d failed: %s", self.broker_id, exc)

    # -- topics -----------------------------------------------------------------------

    async def create_topic(self, name: Any, num_partitions: Any, replication_factor: Any,
                           configs: Any, *, validate_only: bool = False) -> Refusal | None:
        if not self.active:
            return ErrorCode.NOT_CONTROLLER, f"broker {self.broker_id} is not the controller (broker {self.cache.controller_id} is)"
        if isinstance(name, str) and name in self.cache.topics:
            return ErrorCode.TOPIC_ALREADY_EXISTS, f"topic {name!r} already exists"
        refusal = check_new_topic(name, num_partitions, replication_factor, configs,
                                  len(self.cache.brokers))
        if refusal or validate_only:
            return refusal
        assignment = assign_replicas(num_partitions, replication_factor, self.cache.live_broker_ids())
        configs = {str(k): str(v) for k, v in configs.items()}
        txn = self.coord.transaction()
        txn.check(Z.CONTROLLER_EPOCH, version=self._epoch_zk_version)
        txn.create(Z.topic_config_path(name), Z.encode_topic_config(configs))
        txn.create(Z.topic_path(name), Z.encode_assignment(assignment, Z.new_cluster_id()))
        txn.create(Z.partitions_path(name), b"")
        for partition, replicas in assignment.items():
            state = Z.PartitionState(replicas[0], 0, tuple(replicas), self.epoch)
            txn.create(Z.partition_path(name, partition), b"")
            txn.create(Z.state_path(name, partition), Z.encode_state(state))
        try:
            await _commit(txn)
        except NodeExistsError:
            return ErrorCode.TOPIC_ALREADY_EXISTS, f"topic {name!r} already exists"
        except BadVersionError:
            return ErrorCode.NOT_CONTROLLER, "this broker is no longer the controller"
        log.info("created topic %s: %d partition(s), replication factor %d, configs %s",
                 name, num_partitions, replication_factor, configs)
        await self._announce(name)
        return None

    async def delete_topic(self, name: Any) -> Refusal | None:
        if not self.active:
            return ErrorCode.NOT_CONTROLLER, f"broker {self.broker_id} is not the controller (broker {self.cache.controller_id} is)"
        topic = self.cache.topic(name) if isinstance(name, str) else None
        if topic is None:
            return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {name!r} does not exist"
        self.cache.remove_topic(name)  # from now on requests for it get UNKNOWN_TOPIC_OR_PARTITION
        for partition in sorted(topic.assignment):
            await self.replicas.stop_replica(name, partition, delete=True)
        for path in (Z.topic_path(name), Z.topic_config_path(name)):
            try:
                await self.coord.delete(path, recursive=True)
            except NoNodeError:
                pass
        log.info("deleted topic %s", name)
        return None

    # -- leadership -------------------------------------------------------------------

    async def _elect_leaders(self, name: str) -> None:
        """Give every partition of `name` a live leader if it lacks one, then announce."""
        topic = self.cache.topic(name)
        if topic is None:
            return
        live = set(self.cache.brokers)
        for partition, replicas in sorted(topic.assignment.items()):
            state = topic.states.get(partition)
            if state is not None and state.leader in live:
                continue
            await self._write_new_leader(name, partition, replicas, state, live)
        await self._announce(name)

    async def _write_new_leader(self, name: str, partition: int, replicas: list[int],
                                state: Z.PartitionState | None, live: set[int]) -> None:
        isr = state.isr if state is not None else tuple(replicas)
        candidates = [r for r in replicas if r in live and r in isr]
        leader = candidates[0] if candidates else -1
        new_isr = tuple(r for r in isr if r in live) or isr  # never empty the ISR
        epoch = state.leader_epoch + 1 if state is not None else 0
        new = Z.PartitionState(leader, epoch, new_isr, self.epoch)
        path = Z.state_path(name, partition)
        txn = self.coord.transaction()
        txn.check(Z.CONTROLLER_EPOCH, version=self._epoch_zk_version)
        if state is None:
            txn.create(path, Z.encode_state(new))
        else:
            txn.set_data(path, Z.encode_state(new), version=state.zk_version)
        await _commit(txn)
        log.info("partition %s-%d: leader %d, leader epoch %d, isr %s", name, partition, leader, epoch, list(new_isr))

    async def _announce(self, name: str) -> None:
        """Re-read the topic and send LeaderAndIsr for the partitions this broker hosts."""
        topic = await self.store.refresh_topic(name)
        if topic is None:
            return
        for partition, replicas in sorted(topic.assignment.items()):
            state = topic.states.get(partition)
            if state is not None and state.leader == self.broker_id:
                await self.replicas.become_leader(name, partition, state, replicas, topic.configs)


async def _commit(txn: Any) -> list[Any]:
    """Commit a coord multi; raise the operation's error that made it fail, if any.

    ZooKeeper marks every other operation of a failed multi RUNTIMEINCONSISTENCY; the
    real cause is the one result carrying another error.
    """
    results = await txn.commit()
    errors = [r for r in results if isinstance(r, Exception)]
    for error in errors:
        if getattr(error, "code", None) != CoordErrorCode.RUNTIMEINCONSISTENCY:
            raise error
    if errors:
        raise errors[0]
    return results
