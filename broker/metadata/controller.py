"""The controller's asyncio shell: coord and the brokers on one side, its core on the other.

Every decision (leader choice, ISR rules, what to send to whom, when the epoch counts) is
`controller_core.ControllerCore`'s. This shell turns what happens into the core's events
(`controller_events`) and carries out the actions it returns (`controller_actions`):

- the store's reads (brokers, topics, partition states, as its watches re-read them)
  become BrokersChanged / TopicLoaded / TopicGone / StateChanged;
- the race for /controller: create the ephemeral /controller and bump /controller_epoch
  in one multi (a deposed controller's later writes then fail their epoch check); a
  broker that loses keeps an exists watch on /controller and races again when it goes;
- conditional writes: every multi checks /controller_epoch at the version the core won
  it at, state writes at the versions the core expects; the outcome goes back as
  WriteDone or WriteFailed (FENCED when the epoch check failed, CONFLICT when a state or
  topic version moved, EXISTS, ERROR for coord trouble);
- LeaderAndIsr / UpdateMetadata / StopReplica over the channel, built from the cache
  (which this shell updates with every state it writes), and their answers (a replica
  answering KAFKA_STORAGE_ERROR is offline) as LeaderAndIsrAnswered;
- log-dir event nodes (/log_dir_event_notification) as LogDirFailed, deleted once read;
- requests (CreateTopics, CreatePartitions, DeleteTopics, ElectLeaders, ControlledShutdown,
  preferred-leader rebalancing on a timer) as request events, answered by Reply.

A controller whose coord connection is SUSPENDED stops acting at once (EpochLost) and
races again once it is back. It must never decide anything itself, touch logs, or
serve sockets.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from broker.metadata import controller_actions as A
from broker.metadata import controller_events as E
from broker.metadata import controller_requests as requests
from broker.metadata import znodes as Z
from broker.metadata.cache import TopicMetadata
from broker.metadata.controller_core import ControllerCore
from broker.metadata.store import MetadataStore
from broker.refusal import ErrorReply
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.messages import Message
from coord.protocol.errors import BadVersionError, NodeExistsError, NoNodeError
from coord.protocol.errors import ErrorCode as CoordErrorCode

log = logging.getLogger(__name__)


class Channel(Protocol):
    """Where controller requests go (broker.metadata.channel.ControllerChannel)."""

    def send(self, broker_id: int, api_key: int, body: Message) -> asyncio.Future: ...

    def forget(self, broker_id: int) -> None: ...


class NotControllerError(RuntimeError):
    """Another live broker holds /controller; this one must not write leadership."""


DELIVERY_TIMEOUT_S = 10.0  # how long a reply waits for the brokers' answers
MULTI_CHUNK = 1000  # state writes per coord multi (coord requests stay far below 1 MiB)
ERROR_BACKOFF_S = 1.0  # after coord trouble, before the core hears of it (it may retry)

Write = A.WriteStates | A.CreateTopicZnodes | A.AddPartitionZnodes


class Controller:
    def __init__(
        self,
        store: MetadataStore,
        channel: Channel,
        *,
        unclean_default: bool = False,
        rebalance_interval_s: float | None = None,
    ) -> None:
        self.store = store
        self.coord = store.coord
        self.cache = store.cache
        self.broker_id = store.me.broker_id
        self.channel = channel
        self.rebalance_interval_s = rebalance_interval_s
        self.core = ControllerCore(self.broker_id, unclean_default=unclean_default)
        self._replies: dict[int, asyncio.Future] = {}
        self._requests = 0
        self._contending: asyncio.Task | None = None
        self._race_error: Exception | None = None  # why the last race failed (start() raises it)
        self._racing = False  # a race round is running (its own /controller changes fire watches)
        self._rerace = False  # /controller changed during that round
        self._rebalancer: asyncio.Task | None = None
        self._log_dir_watch = False  # a watch on /log_dir_event_notification is pending
        self._background: set[asyncio.Task] = set()
        store.listener = self

    @property
    def active(self) -> bool:
        """True while this broker holds /controller (as far as its last election knows)."""
        return self.core.active

    @property
    def epoch(self) -> int:
        return self.core.epoch

    @property
    def leader_elections(self) -> int:
        """Partitions given a new live leader by this controller (metrics)."""
        return self.core.leader_elections

    # -- the core ---------------------------------------------------------------------------

    def _feed(self, event: E.Event) -> None:
        self._perform(self.core.step(event))

    def _perform(self, actions: list[A.Action]) -> None:
        """Carry out `actions` in order; replies (and topic deletions) wait for the answers
        to the sends of the same step that they name."""
        sent: dict[int, asyncio.Future] = {}
        tail: list[A.Reply | A.DeleteTopicZnodes] = []
        for action in actions:
            match action:
                case A.Note(text, warning):
                    log.log(logging.WARNING if warning else logging.INFO, "%s", text)
                case A.Acting(epoch, holder):
                    if holder >= 0:
                        self.cache.controller_id = holder
                    if epoch >= 0:
                        log.info("broker %d is the controller (controller epoch %d)", self.broker_id, epoch)
                    elif holder >= 0:
                        log.info("broker %d is the controller; broker %d stands by", holder, self.broker_id)
                case A.ContendForController():
                    self._contending = asyncio.get_running_loop().create_task(self._race())
                case A.WriteStates() | A.CreateTopicZnodes() | A.AddPartitionZnodes():
                    self._spawn(self._write(action))
                case A.Reload(token, topics):
                    self._spawn(self._reload(token, topics))
                case A.SendLeaderAndIsr(broker, to, views):
                    body = requests.leader_and_isr(to, self.cache, self._known(views))
                    sent[broker] = self.channel.send(broker, ApiKey.LEADER_AND_ISR, body)
                    sent[broker].add_done_callback(functools.partial(self._leader_and_isr_answered, broker))
                case A.SendUpdateMetadata(broker, to, views):
                    self.channel.send(
                        broker, ApiKey.UPDATE_METADATA, requests.update_metadata(to, self.cache, self._known(views))
                    )
                case A.SendStopReplica(broker, to, partitions):
                    sent[broker] = self.channel.send(
                        broker, ApiKey.STOP_REPLICA, requests.stop_replica(to, list(partitions), delete=True)
                    )
                case A.ForgetBroker(broker):
                    self.channel.forget(broker)
                case A.DeleteTopicZnodes(name):
                    self.cache.remove_topic(name)  # from now on requests for it get UNKNOWN_TOPIC_OR_PARTITION
                    tail.append(action)
                case A.Reply():
                    tail.append(action)
        if all(isinstance(a, A.Reply) and not a.settle for a in tail):
            for reply in tail:
                self._answer(reply)  # type: ignore[arg-type]
        else:
            self._spawn(self._finish(tail, sent))

    def _known(self, views: tuple[A.PartitionView, ...]) -> list[tuple[str, int]]:
        """The partitions of `views` the cache still holds (a deleted topic's are dropped)."""
        return [(v.topic, v.partition) for v in views if self.cache.state(v.topic, v.partition) is not None]

    async def _finish(self, tail: list[A.Reply | A.DeleteTopicZnodes], sent: dict[int, asyncio.Future]) -> None:
        for i, action in enumerate(tail):
            if isinstance(action, A.Reply):
                await _settle([sent[b] for b in action.settle if b in sent])
                self._answer(action)
                continue
            await _settle(list(sent.values()))
            try:
                for path in (Z.topic_path(action.name), Z.topic_config_path(action.name)):
                    try:
                        await self.coord.delete(path, recursive=True)
                    except NoNodeError:
                        pass
            except Exception as exc:  # coord trouble: whoever waits for this step hears of it
                for reply in tail[i + 1 :]:
                    fut = self._replies.pop(reply.request_id, None) if isinstance(reply, A.Reply) else None
                    if fut is not None and not fut.done():
                        fut.set_exception(exc)
                raise

    def _answer(self, reply: A.Reply) -> None:
        fut = self._replies.pop(reply.request_id, None)
        if fut is not None and not fut.done():
            fut.set_result(reply.answer)

    async def _ask(self, make: Callable[[int], E.Event]) -> Any:
        """Feed a request event and wait for the core's reply to it."""
        self._requests += 1
        fut = asyncio.get_running_loop().create_future()
        self._replies[self._requests] = fut
        self._feed(make(self._requests))
        return await fut

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("controller %d: %s", self.broker_id, task.exception())

    # -- the store's reads (MetadataListener) ----------------------------------------------------

    def brokers_read(self) -> None:
        self._feed(
            E.BrokersChanged(dict(self.cache.broker_epochs), {b: info.rack for b, info in self.cache.brokers.items()})
        )

    def topic_read(self, name: str, topic: TopicMetadata | None) -> None:
        if topic is None:
            self._feed(E.TopicGone(name))
            return
        self._feed(
            E.TopicLoaded(
                E.TopicView(
                    name, {p: tuple(r) for p, r in topic.assignment.items()}, dict(topic.configs), dict(topic.states)
                )
            )
        )

    def state_read(self, topic: str, partition: int, state: Z.PartitionState) -> None:
        self._feed(E.StateChanged(topic, partition, state))

    # -- the race for /controller -------------------------------------------------------------

    async def start(self) -> None:
        """Load the metadata, then contend: win and lead the partitions, or stand by
        (at start, and on a new coord session after the old one expired)."""
        if self._contending is not None:
            self._contending.cancel()
        self._feed(E.EpochLost())
        self._log_dir_watch = False  # a new session: the old one's watches are gone
        await self.store.load_all()
        self._race_error = None
        self._feed(E.ControllerVacant())
        if self._contending is not None:
            await self._contending
        if self._race_error is not None:
            raise self._race_error

    def suspend(self) -> None:
        """Our coord session is in doubt: stop acting at once (another broker may already
        hold /controller). `resume` races again once the connection is back."""
        if self.active:
            self._feed(E.EpochLost())

    def resume(self) -> None:
        """The connection is back: race again unless acting. Not only after acting: a race
        whose answer the connection loss swallowed may have left /controller ours, with
        nobody acting and no watch to fire; the race finds out (and reclaims it)."""
        self._feed(E.ControllerVacant())

    async def close(self) -> None:
        self._feed(E.EpochLost())
        for task in (self._rebalancer, self._contending, *self._background):
            if task is not None:
                task.cancel()

    async def _race(self) -> None:
        """Race until this broker is controller or a live other broker is (a change of
        /controller seen while racing triggers another round, so none is missed)."""
        self._racing = True
        try:
            while True:
                self._rerace = False
                won = await self._elect()
                if won is not None or not self._rerace:
                    break
        except Exception as exc:  # noqa: BLE001 - coord unreachable mid-race: the rejoin path starts over
            log.warning("controller election by broker %d failed: %s", self.broker_id, exc)
            self._race_error = exc
            self._feed(E.RaceLost(-1))
            return
        finally:
            self._racing = False
        if won is None:
            self._feed(E.RaceLost(self.cache.controller_id))
            return
        try:
            await self.store.refresh_brokers()  # watches stay armed once: no duplicates
            await self.store.refresh_topics()
        except Exception as exc:  # noqa: BLE001 - coord unreachable: recorded; the rejoin path starts over
            log.warning("controller %d: reading the metadata after winning failed: %s", self.broker_id, exc)
            self._race_error = exc
            self._feed(E.EpochLost())
            return
        await self._ask(lambda request_id: E.EpochWon(won[0], won[1], request_id))
        if not self.active:
            return
        self._spawn(self._log_dir_events())  # failures noticed while no controller was acting
        if self.rebalance_interval_s and (self._rebalancer is None or self._rebalancer.done()):
            self._rebalancer = asyncio.get_running_loop().create_task(self._rebalance_loop())

    async def _elect(self) -> tuple[int, int] | None:
        """Race for /controller: (controller epoch, its zkVersion) if won, None if another
        live broker holds it (its id goes to the cache)."""
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
            failed = _failed_op(await txn.commit())
            if failed is None:
                return epoch, stat.version + 1
            if not isinstance(failed, (NodeExistsError, BadVersionError)):
                raise failed
            holder = await self._other_holder()
            if holder is not None:
                self.cache.controller_id = holder
                return None
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
        self._feed(E.ControllerVacant())

    # -- conditional writes -----------------------------------------------------------------------

    async def _write(self, action: Write) -> None:
        """Carry out one conditional write and tell the core how it went."""
        try:
            event = await self._commit(action)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - coord unreachable or the session in doubt: retried
            log.warning("controller %d: coord write failed (%s)", self.broker_id, exc)
            await asyncio.sleep(ERROR_BACKOFF_S)
            event = E.WriteFailed(action.write_id, E.Failure.ERROR)
        self._feed(event)

    async def _commit(self, action: Write) -> E.WriteDone | E.WriteFailed:
        if isinstance(action, A.WriteStates):
            return await self._write_states(action)
        txn = self.coord.transaction()
        txn.check(Z.CONTROLLER_EPOCH, version=action.epoch_zk_version)
        if isinstance(action, A.CreateTopicZnodes):
            txn.create(Z.topic_config_path(action.name), Z.encode_topic_config(dict(action.configs)))
            txn.create(Z.topic_path(action.name), Z.encode_assignment(_lists(action.assignment), Z.new_cluster_id()))
            txn.create(Z.partitions_path(action.name), b"")
            states = action.states
        else:
            data, stat = await self.coord.get(Z.topic_path(action.name))
            txn.set_data(
                Z.topic_path(action.name),
                Z.encode_assignment(_lists(action.assignment), Z.decode_topic_id(action.name, data)),
                version=stat.version,
            )
            states = action.added
        for partition, state in sorted(states.items()):
            txn.create(Z.partition_path(action.name, partition), b"")
            txn.create(Z.state_path(action.name, partition), Z.encode_state(state))
        failure = _failure(await txn.commit())
        if failure is not None:
            return E.WriteFailed(action.write_id, failure)
        await self.store.refresh_topic(action.name)  # into the cache and the core, watches armed
        return E.WriteDone(action.write_id)

    async def _write_states(self, action: A.WriteStates) -> E.WriteDone | E.WriteFailed:
        """State writes in multis of MULTI_CHUNK, each with the epoch check; the first that
        fails is the answer (the core re-reads and decides again)."""
        versions: list[int] = []
        writes = action.writes
        for i in range(0, len(writes), MULTI_CHUNK):
            chunk = writes[i : i + MULTI_CHUNK]
            txn = self.coord.transaction()
            txn.check(Z.CONTROLLER_EPOCH, version=action.epoch_zk_version)
            for w in chunk:
                txn.set_data(Z.state_path(w.topic, w.partition), Z.encode_state(w.state), version=w.expected_version)
            results = await txn.commit()
            failure = _failure(results)
            if failure is not None:
                return E.WriteFailed(action.write_id, failure)
            for w, stat in zip(chunk, results[1:], strict=True):
                versions.append(stat.version)
                self.cache.set_state(
                    w.topic,
                    w.partition,
                    Z.PartitionState(
                        w.state.leader, w.state.leader_epoch, w.state.isr, w.state.controller_epoch, stat.version
                    ),
                )
        return E.WriteDone(action.write_id, tuple(versions))

    async def _reload(self, token: int, topics: tuple[str, ...]) -> None:
        try:
            for name in topics:
                await self.store.refresh_topic(name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - coord unreachable: re-read after a back-off
            log.warning("controller %d: re-reading %s failed (%s)", self.broker_id, list(topics), exc)
            await asyncio.sleep(ERROR_BACKOFF_S)
        self._feed(E.Reloaded(token))

    # -- requests ----------------------------------------------------------------------------

    async def create_topic(
        self,
        name: Any,
        num_partitions: Any,
        replication_factor: Any,
        configs: Any,
        *,
        validate_only: bool = False,
        assignment: dict[int, list[int]] | None = None,
    ) -> ErrorReply | None:
        """Create a topic; `assignment` (checked by `replica_assignment`) replaces our placement."""
        return await self._ask(
            lambda rid: E.CreateTopic(rid, name, num_partitions, replication_factor, configs, validate_only, assignment)
        )

    async def delete_topic(self, name: Any) -> ErrorReply | None:
        return await self._ask(lambda rid: E.DeleteTopic(rid, name))

    async def create_partitions(
        self, name: Any, count: Any, *, validate_only: bool = False, assignment: list[list[int]] | None = None
    ) -> ErrorReply | None:
        """Grow topic `name` to `count` partitions (Kafka's CreatePartitions)."""
        given = tuple(tuple(r) for r in assignment) if assignment else None
        return await self._ask(lambda rid: E.CreatePartitions(rid, name, count, validate_only, given))

    async def controlled_shutdown(
        self, broker_id: Any, broker_epoch: Any
    ) -> tuple[ErrorReply | None, list[tuple[str, int]]]:
        """Move leadership off `broker_id` before it stops; returns what it still leads."""
        answer = await self._ask(lambda rid: E.ControlledShutdown(rid, broker_id, broker_epoch))
        return answer if answer[0] is None else (answer, [])

    async def elect_preferred_leaders(self) -> list[tuple[str, int]]:
        answer = await self._ask(E.PreferredElection)
        return answer if isinstance(answer, list) else []

    async def elect_leaders(
        self, election_type: int, wanted: set[tuple[str, int]] | None
    ) -> ErrorReply | dict[tuple[str, int], ErrorReply | None]:
        """ElectLeaders (KIP-460): each existing partition of `wanted` (every partition if
        None) -> why it was not elected, or None once its new leader is written and told."""
        chosen = None if wanted is None else frozenset(wanted)
        return await self._ask(lambda rid: E.ElectLeaders(rid, election_type, chosen))

    async def _rebalance_loop(self) -> None:
        """Preferred-leader rebalancing: every interval, hand leadership back to each
        partition's first assigned replica when it is alive and in sync."""
        assert self.rebalance_interval_s
        while self.active:
            await asyncio.sleep(self.rebalance_interval_s)
            await self.elect_preferred_leaders()

    # -- what brokers report --------------------------------------------------------------------

    def _on_log_dir_event(self, event: Any) -> None:
        self._log_dir_watch = False
        if self.active:
            self._spawn(self._log_dir_events())

    async def _log_dir_events(self) -> None:
        """Read (watching for more) and delete the log-dir event nodes; the core asks each
        broker they name which of its replicas are offline."""
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
            log.info(
                "controller %d: broker(s) %s report a failed log directory; asking which replicas are offline",
                self.broker_id,
                sorted(brokers),
            )
            self._feed(E.LogDirFailed(frozenset(brokers)))
        for child in children:
            try:
                await self.coord.delete(Z.log_dir_event_path(child))
            except NoNodeError:
                pass

    def _leader_and_isr_answered(self, broker: int, answer: asyncio.Future) -> None:
        """Which of `broker`'s replicas answered KAFKA_STORAGE_ERROR (offline) or NONE."""
        if answer.cancelled() or answer.exception() is not None:
            return
        response = answer.result()
        if response is None or response.error_code:
            return
        errors = [((e.topic_name, e.partition_index), e.error_code) for e in response.partition_errors]
        self._feed(
            E.LeaderAndIsrAnswered(
                broker,
                frozenset(tp for tp, code in errors if code == ErrorCode.KAFKA_STORAGE_ERROR),
                frozenset(tp for tp, code in errors if code == ErrorCode.NONE),
            )
        )


def _lists(assignment: Any) -> dict[int, list[int]]:
    return {p: list(r) for p, r in assignment.items()}


async def _settle(futures: list[asyncio.Future]) -> None:
    """Wait (bounded) until the brokers answered; a slow broker catches up later anyway."""
    if futures:
        await asyncio.wait(futures, timeout=DELIVERY_TIMEOUT_S)


def _failed_op(results: list[Any]) -> Exception | None:
    """The error of the operation that made a coord multi fail, if it failed.

    ZooKeeper marks the operations before the failed one as rolled back (code OK) and
    those after it RUNTIMEINCONSISTENCY; the real cause is the one result carrying
    another error.
    """
    errors = [r for r in results if isinstance(r, Exception)]
    for error in errors:
        if getattr(error, "code", None) not in (CoordErrorCode.OK, CoordErrorCode.RUNTIMEINCONSISTENCY):
            return error
    return errors[0] if errors else None


def _failure(results: list[Any]) -> E.Failure | None:
    """What made a controller multi fail (its first operation is the epoch check)."""
    failed = _failed_op(results)
    if failed is None:
        return None
    if results and results[0] is failed:
        return E.Failure.FENCED
    if isinstance(failed, NodeExistsError):
        return E.Failure.EXISTS
    if isinstance(failed, (BadVersionError, NoNodeError)):
        return E.Failure.CONFLICT
    raise failed
