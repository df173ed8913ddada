"""The controller: the one broker that decides partition leadership and writes it to coord.

It wins the ephemeral /controller znode (bumping /controller_epoch in the same multi, so
a deposed controller's later writes fail their epoch check), creates and deletes topics,
and elects partition leaders (`election.py`: first live in-sync replica in assignment
order, leader epoch + 1, unclean election only where the topic allows it). Every state
change is written conditionally on the partition's zkVersion together with a check of
/controller_epoch, all partitions of one decision in one coord multi. Then it tells the
brokers through the channel: LeaderAndIsr to the replicas concerned, UpdateMetadata to
every live broker, StopReplica on topic deletion, each carrying the controller epoch
and the addressee's broker epoch so zombies on either side are refused.

It watches /brokers/ids (via the store): a broker that vanished or re-registered loses
leadership and ISR membership at once; a broker that (re)joined gets LeaderAndIsr for
everything it hosts. ControlledShutdown moves leadership away before a broker stops;
preferred leaders are restored periodically.

A broker whose log directory failed writes a log-dir event node; the controller (watching
/log_dir_event_notification) sends that broker LeaderAndIsr for everything it hosts.
Every LeaderAndIsr answer is read: a replica answering KAFKA_STORAGE_ERROR is offline
(its broker lives, its disk does not) and counts as dead in every election until it
answers NONE or its broker re-registers, so its leadership moves and it leaves the ISR.
A broker that loses the race is a
standby: it keeps an exists watch on /controller and races again when the node
vanishes. A controller whose coord connection is SUSPENDED stops acting at once. It
must never touch logs or sockets itself.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Coroutine
from typing import Any, Protocol

from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.messages import Message
from coord.protocol.errors import BadVersionError, NodeExistsError, NoNodeError
from coord.protocol.errors import ErrorCode as CoordErrorCode

from broker.metadata import controller_requests as requests
from broker.metadata import znodes as Z
from broker.metadata.election import offline_election, preferred_election, shutdown_election
from broker.metadata.requested_election import requested_election
from broker.metadata.store import MetadataStore
from broker.metadata.validation import MAX_PARTITIONS, assign_replicas, check_new_topic
from broker.refusal import ErrorReply

log = logging.getLogger(__name__)


class Channel(Protocol):
    """Where controller requests go (broker.metadata.channel.ControllerChannel)."""

    def send(self, broker_id: int, api_key: int, body: Message) -> asyncio.Future: ...

    def forget(self, broker_id: int) -> None: ...


class NotControllerError(RuntimeError):
    """Another live broker holds /controller; this one must not write leadership."""


DELIVERY_TIMEOUT_S = 10.0   # how long CreateTopics / DeleteTopics wait for the brokers' answers
MULTI_CHUNK = 1000          # state writes per coord multi (coord requests stay far below 1 MiB)


class Controller:
    def __init__(self, store: MetadataStore, channel: Channel, *, unclean_default: bool = False,
                 rebalance_interval_s: float | None = None) -> None:
        self.store = store
        self.coord = store.coord
        self.cache = store.cache
        self.broker_id = store.me.broker_id
        self.channel = channel
        self.unclean_default = unclean_default
        self.rebalance_interval_s = rebalance_interval_s
        self.epoch = -1
        self._epoch_zk_version = -1
        self.leader_elections = 0   # partitions given a new live leader by this controller (metrics)
        self._contending: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self._known: dict[int, int] = {}       # live brokers -> broker epoch, as last acted on
        self._leaving: set[int] = set()        # brokers in controlled shutdown
        self._suspended_active = False
        self._racing = False    # an election round is running (its own /controller changes fire watches)
        self._rerace = False    # /controller changed during that round
        self._rebalancer: asyncio.Task | None = None
        self._retry: asyncio.Task | None = None
        self._offline_replicas: dict[int, set[tuple[str, int]]] = {}   # broker -> replicas on failed disks
        self._log_dir_watch = False    # a watch on /log_dir_event_notification is pending
        self._background: set[asyncio.Task] = set()
        store.on_brokers_changed = self._brokers_changed

    @property
    def active(self) -> bool:
        """True while this broker holds /controller (as far as its last election knows)."""
        return self.epoch >= 0

    # -- election ---------------------------------------------------------------------

    async def start(self) -> None:
        """Load the metadata, then contend: win and lead the partitions, or stand by
        (at start, and on a new coord session after the old one expired)."""
        self.epoch, self._epoch_zk_version = -1, -1
        self._suspended_active = False
        self._log_dir_watch = False   # a new session: the old one's watches are gone
        await self.store.load_all()
        await self._contend()

    async def _contend(self) -> None:
        """Race until this broker is controller or a live other broker is (a change of
        /controller seen while racing triggers another round, so none is missed)."""
        self._racing = True
        try:
            while True:
                self._rerace = False
                if await self._elect():
                    break
                if not self._rerace:
                    return
        finally:
            self._racing = False
        await self.store.refresh_brokers()   # watches stay armed once: no duplicates
        await self.store.refresh_topics()
        async with self._lock:
            self._known = dict(self.cache.broker_epochs)
            self._leaving.clear()
            live = self._live()
            await self._elect_and_write(lambda t, p, replicas, st: offline_election(
                replicas, st, self._usable(live, t, p), self.epoch, unclean=self._unclean(t)))
            # A new controller tells every live broker the whole state (its predecessor may
            # have died between the coord write and the requests).
            sent = self._send_leader_and_isr(self._all_partitions(), set(self._known))
            self._send_update_metadata()
        await _settle([sent[self.broker_id]] if self.broker_id in sent else [])  # ours: before we serve
        self._spawn(self._log_dir_events())   # failures noticed while no controller was acting
        if self.rebalance_interval_s and (self._rebalancer is None or self._rebalancer.done()):
            self._rebalancer = asyncio.get_running_loop().create_task(self._rebalance_loop())

    def suspend(self) -> None:
        """Our coord session is in doubt: stop acting at once (another broker may already
        hold /controller). `resume` races again once the connection is back."""
        if self.active:
            log.warning("controller %d: coord connection suspended; no longer acting as controller",
                        self.broker_id)
            self._suspended_active = True
            self.epoch = -1

    def resume(self) -> None:
        if self._suspended_active and (self._contending is None or self._contending.done()):
            self._suspended_active = False
            self._contending = asyncio.get_running_loop().create_task(self._recontend())

    async def close(self) -> None:
        self.epoch = -1
        for task in (self._rebalancer, self._contending, self._retry, *self._background):
            if task is not None:
                task.cancel()

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
        if self._racing:
            self._rerace = True
            return
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
                           configs: Any, *, validate_only: bool = False,
                           assignment: dict[int, list[int]] | None = None) -> ErrorReply | None:
        """Create a topic; `assignment` (checked by `replica_assignment`) replaces our placement."""
        if not self.active:
            return ErrorCode.NOT_CONTROLLER, f"broker {self.broker_id} is not the controller (broker {self.cache.controller_id} is)"
        if isinstance(name, str) and name in self.cache.topics:
            return ErrorCode.TOPIC_ALREADY_EXISTS, f"topic {name!r} already exists"
        refusal = check_new_topic(name, num_partitions, replication_factor, configs,
                                  len(self.cache.brokers))
        if refusal or validate_only:
            return refusal
        racks = {b: info.rack for b, info in self.cache.brokers.items()}
        assignment = assignment or assign_replicas(num_partitions, replication_factor, self.cache.live_broker_ids(),
                                                   racks=racks)
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
        await self.store.refresh_topic(name)
        partitions = [(name, p) for p in sorted(assignment)]
        await _settle(list(self._send_leader_and_isr(partitions, set(self.cache.brokers)).values()))
        self._send_update_metadata(partitions)
        return None

    async def delete_topic(self, name: Any) -> ErrorReply | None:
        if not self.active:
            return ErrorCode.NOT_CONTROLLER, f"broker {self.broker_id} is not the controller (broker {self.cache.controller_id} is)"
        topic = self.cache.topic(name) if isinstance(name, str) else None
        if topic is None:
            return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {name!r} does not exist"
        self.cache.remove_topic(name)  # from now on requests for it get UNKNOWN_TOPIC_OR_PARTITION
        hosts: dict[int, list[tuple[str, int]]] = {}
        for partition, replicas in sorted(topic.assignment.items()):
            for r in replicas:
                hosts.setdefault(r, []).append((name, partition))
        await _settle([self.channel.send(b, ApiKey.STOP_REPLICA, requests.stop_replica(self._to(b), ps, delete=True))
                       for b, ps in sorted(hosts.items()) if b in self.cache.brokers])
        for path in (Z.topic_path(name), Z.topic_config_path(name)):
            try:
                await self.coord.delete(path, recursive=True)
            except NoNodeError:
                pass
        log.info("deleted topic %s", name)
        return None

    async def create_partitions(self, name: Any, count: Any, *, validate_only: bool = False,
                                assignment: list[list[int]] | None = None) -> ErrorReply | None:
        """Grow topic `name` to `count` partitions (Kafka's CreatePartitions): the new ones get
        replicas as at creation, round robin continuing after the existing partitions, or as
        `assignment` (checked by `replica_assignment`) says; the new assignment and their states
        are written in one multi with the epoch check."""
        if not self.active:
            return ErrorCode.NOT_CONTROLLER, f"broker {self.broker_id} is not the controller (broker {self.cache.controller_id} is)"
        topic = self.cache.topic(name) if isinstance(name, str) else None
        if topic is None:
            return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {name!r} does not exist"
        current = len(topic.assignment)
        if type(count) is not int or not current < count <= MAX_PARTITIONS:
            return (ErrorCode.INVALID_PARTITIONS,
                    f"topic {name!r} has {current} partition(s); the count can only grow, up to {MAX_PARTITIONS}, "
                    f"not to {count!r}")
        factor = len(topic.assignment[min(topic.assignment)])
        live = self.cache.live_broker_ids()
        if factor > len(live):
            return (ErrorCode.INVALID_REPLICATION_FACTOR,
                    f"topic {name!r} has replication factor {factor} but only {len(live)} broker(s) are live")
        if validate_only:
            return None
        racks = {b: info.rack for b, info in self.cache.brokers.items()}
        added = {current + p: r for p, r in (dict(enumerate(assignment)) if assignment else
                 assign_replicas(count - current, factor, live, start=current, racks=racks)).items()}
        data, stat = await self.coord.get(Z.topic_path(name))
        txn = self.coord.transaction()
        txn.check(Z.CONTROLLER_EPOCH, version=self._epoch_zk_version)
        txn.set_data(Z.topic_path(name), Z.encode_assignment({**topic.assignment, **added},
                                                             Z.decode_topic_id(name, data)), version=stat.version)
        for partition, replicas in added.items():
            txn.create(Z.partition_path(name, partition), b"")
            txn.create(Z.state_path(name, partition), Z.encode_state(Z.PartitionState(replicas[0], 0, tuple(replicas),
                                                                                      self.epoch)))
        try:
            await _commit(txn)
        except (BadVersionError, NodeExistsError):
            return ErrorCode.NOT_CONTROLLER, "the topic or the controller changed meanwhile; ask again"
        log.info("topic %s: partitions %d-%d added", name, current, count - 1)
        await self.store.refresh_topic(name)
        partitions = [(name, p) for p in sorted(added)]
        await _settle(list(self._send_leader_and_isr(partitions, set(self.cache.brokers)).values()))
        self._send_update_metadata(partitions)
        return None

    # -- brokers coming and going ------------------------------------------------------------

    async def _brokers_changed(self) -> None:
        """The broker set changed (watch on /brokers/ids): re-elect for the dead, tell the new."""
        if not self.active:
            return
        async with self._lock:
            if not self.active:
                return
            now = dict(self.cache.broker_epochs)
            gone = {b for b, e in self._known.items() if now.get(b) != e}   # dead, or restarted
            joined = {b for b, e in now.items() if self._known.get(b) != e}
            self._leaving -= gone
            for b in gone | joined:   # a new registration starts with its disks as they are now
                self._offline_replicas.pop(b, None)
            for b in gone:
                self.channel.forget(b)
            try:
                await self._brokers_moved(gone, joined)
            except Exception as exc:  # a coord hiccup: try again (elections are idempotent)
                if self.active:
                    log.warning("controller %d: reacting to broker changes failed (%s); retrying in 1 s",
                                self.broker_id, exc)
                    self._retry = asyncio.get_running_loop().create_task(self._brokers_changed_later())
                return
            self._known = now

    async def _brokers_changed_later(self) -> None:
        await asyncio.sleep(1)
        await self._brokers_changed()

    async def _brokers_moved(self, gone: set[int], joined: set[int]) -> None:
        if gone:
            log.info("controller %d: broker(s) %s left (or restarted); moving their leadership",
                     self.broker_id, sorted(gone))
            live = self._live() - joined   # a restarted broker must not simply resume its old epoch
            changed = await self._elect_and_write(lambda t, p, replicas, st: offline_election(
                replicas, st, self._usable(live, t, p), self.epoch, unclean=self._unclean(t)))
            self._send_leader_and_isr(changed, live)
            self._send_update_metadata(changed)
        if joined:
            log.info("controller %d: broker(s) %s joined", self.broker_id, sorted(joined))
            live = self._live()
            changed = await self._elect_and_write(lambda t, p, replicas, st: offline_election(
                replicas, st, self._usable(live, t, p), self.epoch, unclean=self._unclean(t)))
            hosted = [(t, p) for t, p in self._all_partitions()
                      if joined & set(self.cache.topics[t].assignment[p])]
            self._send_leader_and_isr(sorted(set(changed) | set(hosted)), live)
            self._send_update_metadata()

    async def controlled_shutdown(self, broker_id: Any, broker_epoch: Any) -> tuple[ErrorReply | None, list[tuple[str, int]]]:
        """Move leadership off `broker_id` before it stops; returns what it still leads."""
        if not self.active:
            return (ErrorCode.NOT_CONTROLLER, f"broker {self.broker_id} is not the controller "
                                              f"(broker {self.cache.controller_id} is)"), []
        if self.cache.broker_epochs.get(broker_id) != broker_epoch:
            return (ErrorCode.STALE_BROKER_EPOCH, f"broker {broker_id} epoch {broker_epoch} is not its current "
                                                  f"registration ({self.cache.broker_epochs.get(broker_id)})"), []
        async with self._lock:
            self._leaving.add(broker_id)
            live = self._live()
            changed = await self._elect_and_write(lambda t, p, replicas, st: shutdown_election(
                replicas, st, self._usable(live, t, p), broker_id, self.epoch))
            await _settle(list(self._send_leader_and_isr(changed, live | {broker_id}).values()))
            self._send_update_metadata(changed)
        remaining = [(t, p) for t, p in self._all_partitions()
                     if self.cache.topics[t].states[p].leader == broker_id]
        log.info("controller %d: controlled shutdown of broker %d moved %d partition(s); it still leads %d",
                 self.broker_id, broker_id, len(changed), len(remaining))
        return None, remaining

    async def _rebalance_loop(self) -> None:
        """Preferred-leader rebalancing: every interval, hand leadership back to each
        partition's first assigned replica when it is alive and in sync."""
        assert self.rebalance_interval_s
        while self.active:
            await asyncio.sleep(self.rebalance_interval_s)
            await self.elect_preferred_leaders()

    async def elect_preferred_leaders(self) -> list[tuple[str, int]]:
        if not self.active:
            return []
        async with self._lock:
            live = self._live()
            changed = await self._elect_and_write(lambda t, p, replicas, st: preferred_election(
                replicas, st, self._usable(live, t, p), self.epoch))
            if changed:
                log.info("controller %d: preferred leaders restored for %d partition(s)", self.broker_id,
                         len(changed))
                self._send_leader_and_isr(changed, live)
                self._send_update_metadata(changed)
        return changed

    async def elect_leaders(self, election_type: int, wanted: set[tuple[str, int]] | None
                            ) -> ErrorReply | dict[tuple[str, int], ErrorReply | None]:
        """ElectLeaders (KIP-460): each existing partition of `wanted` (every partition if
        None) -> why it was not elected, or None once its new leader is written and told."""
        if not self.active:
            return ErrorCode.NOT_CONTROLLER, f"broker {self.broker_id} is not the controller (broker {self.cache.controller_id} is)"
        verdicts: dict[tuple[str, int], ErrorReply | None] = {}

        def decide(t: str, p: int, replicas: list[int], st: Z.PartitionState) -> Z.PartitionState | None:
            if wanted is not None and (t, p) not in wanted:
                return None
            new, verdicts[(t, p)] = requested_election(election_type, replicas, st, self._usable(live, t, p),
                                                       self.epoch)
            return new

        async with self._lock:
            live = self._live()
            changed = await self._elect_and_write(decide)
            if changed:
                await _settle(list(self._send_leader_and_isr(changed, live).values()))
                self._send_update_metadata(changed)
        return verdicts

    # -- log directory failures --------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("controller %d: %s", self.broker_id, task.exception())

    def _on_log_dir_event(self, event: Any) -> None:
        self._log_dir_watch = False
        if self.active:
            self._spawn(self._log_dir_events())

    async def _log_dir_events(self) -> None:
        """Read (watching for more) and delete the log-dir event nodes; send each broker
        they name LeaderAndIsr for every replica it hosts, whose answers say which replicas
        are offline (`_leader_and_isr_answered`)."""
        if not self.active:
            return
        watch = None if self._log_dir_watch else self._on_log_dir_event
        children = await self.coord.get_children(Z.LOG_DIR_EVENTS, watch=watch)
        self._log_dir_watch = True
        brokers: set[int] = set()
        for child in sorted(children):
            try:
                data, _ = await self.coord.get(Z.log_dir_event_path(child))
                brokers.add(Z.decode_log_dir_event(data))
            except NoNodeError:
                continue
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("controller %d: ignoring log dir event %s: %s", self.broker_id, child, exc)
        if brokers:
            log.info("controller %d: broker(s) %s report a failed log directory; asking which replicas are offline",
                     self.broker_id, sorted(brokers))
            async with self._lock:
                if not self.active:
                    return
                hosted = [(t, p) for t, p in self._all_partitions()
                          if brokers & set(self.cache.topics[t].assignment[p])]
                self._send_leader_and_isr(hosted, brokers & self._live())
        for child in children:
            try:
                await self.coord.delete(Z.log_dir_event_path(child))
            except NoNodeError:
                pass

    def _leader_and_isr_answered(self, broker: int, answer: asyncio.Future) -> None:
        """Note which of `broker`'s replicas are offline (KAFKA_STORAGE_ERROR) or back
        (NONE); newly offline ones are elected around."""
        if answer.cancelled() or answer.exception() is not None or not self.active:
            return
        response = answer.result()
        if response is None or response.error_code:
            return
        offline = self._offline_replicas.setdefault(broker, set())
        new = set()
        for e in response.partition_errors:
            tp = (e.topic_name, e.partition_index)
            if e.error_code == ErrorCode.KAFKA_STORAGE_ERROR and tp not in offline:
                new.add(tp)
            elif e.error_code == ErrorCode.NONE:
                offline.discard(tp)
        if new:
            offline |= new
            log.info("controller %d: broker %d's replicas of %s are offline (failed log directory)",
                     self.broker_id, broker, ", ".join(f"{t}-{p}" for t, p in sorted(new)))
            self._spawn(self._replicas_offline())

    async def _replicas_offline(self) -> None:
        """Elect around offline replicas: they leave the ISR, and lead nothing."""
        async with self._lock:
            if not self.active:
                return
            live = self._live()
            changed = await self._elect_and_write(lambda t, p, replicas, st: offline_election(
                replicas, st, self._usable(live, t, p), self.epoch, unclean=self._unclean(t)))
            self._send_leader_and_isr(changed, live)
            self._send_update_metadata(changed)

    # -- leadership ------------------------------------------------------------------------

    def _live(self) -> set[int]:
        return set(self.cache.brokers) - self._leaving

    def _usable(self, live: set[int], topic: str, partition: int) -> set[int]:
        """The brokers of `live` whose replica of topic-partition is not on a failed disk."""
        if not self._offline_replicas:
            return live
        return {b for b in live if (topic, partition) not in self._offline_replicas.get(b, ())}

    def _unclean(self, topic: str) -> bool:
        meta = self.cache.topic(topic)
        value = meta.configs.get("unclean.leader.election.enable") if meta is not None else None
        return self.unclean_default if value is None else value == "true"

    def _all_partitions(self) -> list[tuple[str, int]]:
        return [(t, p) for t, meta in sorted(self.cache.topics.items()) for p in sorted(meta.assignment)]

    async def _elect_and_write(self, decide: Any) -> list[tuple[str, int]]:
        """Apply `decide(topic, partition, replicas, state)` to every partition; write all changes in one
        conditional multi (per MULTI_CHUNK); on a version conflict (a leader's ISR write got
        there first) re-read those topics and decide again."""
        for _ in range(5):
            changes = []
            for name, meta in sorted(self.cache.topics.items()):
                for p, replicas in sorted(meta.assignment.items()):
                    state = meta.states.get(p)
                    new = decide(name, p, replicas, state) if state is not None else None
                    if new is not None:
                        changes.append((name, p, state, new))
            if not changes:
                return []
            try:
                await self._write_states(changes)
            except BadVersionError:
                for name in sorted({c[0] for c in changes}):
                    await self.store.refresh_topic(name)
                continue
            for name, p, old, new in changes:
                log.info("partition %s-%d: leader %d, leader epoch %d, isr %s", name, p, new.leader,
                         new.leader_epoch, list(new.isr))
                self.leader_elections += new.leader != old.leader and new.leader >= 0
            return [(c[0], c[1]) for c in changes]
        raise NotControllerError("partition states kept changing under the controller; will retry on the next event")

    async def _write_states(self, changes: list[tuple[str, int, Z.PartitionState, Z.PartitionState]]) -> None:
        for i in range(0, len(changes), MULTI_CHUNK):
            chunk = changes[i:i + MULTI_CHUNK]
            txn = self.coord.transaction()
            txn.check(Z.CONTROLLER_EPOCH, version=self._epoch_zk_version)
            for name, p, old, new in chunk:
                txn.set_data(Z.state_path(name, p), Z.encode_state(new), version=old.zk_version)
            try:
                results = await _commit(txn)
            except BadVersionError:
                if not await self._still_controller():
                    self.epoch = -1
                    raise NotControllerError("another broker became controller") from None
                raise
            for (name, p, _, new), stat in zip(chunk, results[1:]):
                self.cache.set_state(name, p, Z.PartitionState(new.leader, new.leader_epoch, new.isr,
                                                               new.controller_epoch, stat.version))

    async def _still_controller(self) -> bool:
        _, stat = await self.coord.get(Z.CONTROLLER_EPOCH)
        return stat.version == self._epoch_zk_version

    # -- requests to brokers --------------------------------------------------------------------

    def _to(self, broker_id: int) -> requests.Addressing:
        """This controller and epoch, addressed to the registration of `broker_id` we know."""
        return requests.Addressing(self.broker_id, self.epoch, self.cache.broker_epochs.get(broker_id, -1))

    def _send_leader_and_isr(self, partitions: list[tuple[str, int]], to: set[int]) -> dict[int, asyncio.Future]:
        """LeaderAndIsr to every broker in `to` hosting one of `partitions`; broker -> answer."""
        per_broker: dict[int, list[tuple[str, int]]] = {}
        for topic, p in partitions:
            meta = self.cache.topics.get(topic)
            if meta is None or p not in meta.states:
                continue
            for r in meta.assignment[p]:
                if r in to:
                    per_broker.setdefault(r, []).append((topic, p))
        sent = {b: self.channel.send(b, ApiKey.LEADER_AND_ISR, requests.leader_and_isr(self._to(b), self.cache, tps))
                for b, tps in sorted(per_broker.items())}
        for b, answer in sent.items():   # offline replicas answer KAFKA_STORAGE_ERROR
            answer.add_done_callback(functools.partial(self._leader_and_isr_answered, b))
        return sent

    def _send_update_metadata(self, partitions: list[tuple[str, int]] | None = None) -> None:
        """UpdateMetadata to every live broker: the given partitions' states (all if None)."""
        chosen = self._all_partitions() if partitions is None else partitions
        known = [(t, p) for t, p in chosen if t in self.cache.topics and p in self.cache.topics[t].states]
        for b in sorted(self.cache.brokers):
            self.channel.send(b, ApiKey.UPDATE_METADATA, requests.update_metadata(self._to(b), self.cache, known))


async def _settle(futures: list[asyncio.Future]) -> None:
    """Wait (bounded) until the brokers answered; a slow broker catches up later anyway."""
    if futures:
        await asyncio.wait(futures, timeout=DELIVERY_TIMEOUT_S)


async def _commit(txn: Any) -> list[Any]:
    """Commit a coord multi; raise the operation's error that made it fail, if any.

    ZooKeeper marks the operations before the failed one as rolled back (code OK) and
    those after it RUNTIMEINCONSISTENCY; the real cause is the one result carrying
    another error.
    """
    results = await txn.commit()
    errors = [r for r in results if isinstance(r, Exception)]
    for error in errors:
        if getattr(error, "code", None) not in (CoordErrorCode.OK, CoordErrorCode.RUNTIMEINCONSISTENCY):
            raise error
    if errors:
        raise errors[0]
    return results
