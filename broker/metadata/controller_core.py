"""The controller's decisions as a sans-I/O core: events in (`controller_events`), actions
out (`controller_actions`), no asyncio, no clock, no coord.

Theory of operation. The core holds what the controller knows: its controller epoch and
the zkVersion of /controller_epoch it won (-1 while it does not act), the registered
brokers and their broker epochs, the brokers it last acted on (`known`), the brokers in
controlled shutdown, the replicas on failed disks, and every topic's assignment, configs
and partition states with their zkVersions. Coord watches and reads arrive as events
that keep this view current whether or not it acts.

Everything it decides is a *job*, run one at a time in arrival order: taking over after
winning /controller, reacting to brokers that left or (re)joined, electing around offline
replicas, controlled shutdown, preferred and requested elections, creating, growing and
deleting topics. A job is a generator: it yields the one conditional write (or re-read)
it waits for and is resumed with its result, so a job reads as the straight-line story
of one decision. Elections are `election.py`'s and `requested_election.py`'s pure rules
(a leader comes from the live ISR in assignment order; outside the ISR only where the
topic allows unclean election); placement is `validation.assign_replicas`.

Every write checks /controller_epoch at the won version, so a deposed controller's
writes are refused (WriteFailed FENCED): the core stops acting at once and refuses the
requests it holds. A state write that finds a version moved (a leader's ISR change got
there first) re-reads the topics and decides again, up to ATTEMPTS times. After a
write, LeaderAndIsr goes to the replicas concerned and UpdateMetadata to every live
broker, each addressed with our controller epoch and the addressee's broker epoch.

It must never perform I/O, read the clock or hold a future: the shell (`controller.py`)
and the simulator (`tests/sim/controller_cluster.py`) carry out what it returns.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field

from broker.metadata import controller_actions as A
from broker.metadata import controller_events as E
from broker.metadata.controller_requests import Addressing
from broker.metadata.election import offline_election, preferred_election, shutdown_election
from broker.metadata.requested_election import requested_election
from broker.metadata.validation import MAX_PARTITIONS, assign_replicas, check_new_topic
from broker.metadata.znodes import PartitionState
from broker.refusal import ErrorReply
from client.protocol.errors import ErrorCode

ATTEMPTS = 5  # decide-write rounds per job before it gives up (each after a re-read)

TopicPartition = tuple[str, int]
Decide = Callable[[str, int, list[int], PartitionState], PartitionState | None]
Job = Generator[A.Action, E.Event, None]


class _FencedError(Exception):
    """/controller_epoch moved: another broker is controller."""


class _FailedError(Exception):
    """The job could not finish (coord trouble, or states kept changing)."""


@dataclass
class _Topic:
    assignment: dict[int, tuple[int, ...]]
    configs: dict[str, str]
    states: dict[int, PartitionState] = field(default_factory=dict)


@dataclass
class _Item:
    kind: str
    make: Callable[[], Job]
    request_id: int = 0  # 0: nobody waits for a reply
    retry: bool = False  # re-queued if it fails (broker changes, takeover, offline replicas)


class ControllerCore:
    def __init__(self, broker_id: int, *, unclean_default: bool = False) -> None:
        self.broker_id = broker_id
        self.unclean_default = unclean_default
        self.epoch = -1
        self.epoch_zk_version = -1
        self.holder = -1  # the controller as far as we know
        self.contending = False
        self.brokers: dict[int, int] = {}  # registered brokers -> broker epoch
        self.racks: dict[int, str | None] = {}
        self.known: dict[int, int] = {}  # live brokers -> broker epoch, as last acted on
        self.leaving: set[int] = set()  # brokers in controlled shutdown
        self.offline: dict[int, set[TopicPartition]] = {}  # broker -> its replicas on failed disks
        self.topics: dict[str, _Topic] = {}
        self.leader_elections = 0  # partitions given a new live leader (metrics)
        self._queue: deque[_Item] = deque()
        self._running: _Item | None = None
        self._job: Job | None = None
        self._awaiting = 0  # the write id or reload token the job waits for
        self._next_id = 0
        self._out: list[A.Action] = []

    @property
    def active(self) -> bool:
        return self.epoch >= 0

    # -- the one entry point --------------------------------------------------------------

    def step(self, event: E.Event) -> list[A.Action]:
        """Take one event; return what to do, in order."""
        self._out = []
        self._take(event)
        while self._job is None and self._queue and self.active:
            self._start(self._queue.popleft())
        out, self._out = self._out, []
        return out

    def _take(self, event: E.Event) -> None:
        match event:
            case E.ControllerVacant():
                if not self.active and not self.contending:
                    self.contending = True
                    self._out.append(A.ContendForController())
            case E.EpochWon(epoch, zk_version, request_id):
                self.contending = False
                self.epoch, self.epoch_zk_version, self.holder = epoch, zk_version, self.broker_id
                self.known = dict(self.brokers)
                self.leaving.clear()
                self._out.append(A.Acting(epoch, self.broker_id))
                self._queue.append(_Item("takeover", lambda: self._takeover(request_id), request_id, retry=True))
            case E.RaceLost(holder):
                self.contending = False
                self.holder = holder
                self._out.append(A.Acting(-1, holder))
            case E.EpochLost():
                self.contending = False
                self._demote("this broker's coord session is in doubt")
            case E.BrokersChanged(epochs, racks):
                self.brokers, self.racks = dict(epochs), dict(racks)
                if self.active and not any(i.kind == "brokers" for i in self._queue):
                    self._queue.append(_Item("brokers", self._brokers_moved, retry=True))
            case E.TopicLoaded(view):
                self.topics[view.name] = _Topic(
                    {p: tuple(r) for p, r in view.assignment.items()}, dict(view.configs), dict(view.states)
                )
            case E.TopicGone(name):
                self.topics.pop(name, None)
            case E.StateChanged(topic, partition, state):
                meta = self.topics.get(topic)
                old = meta.states.get(partition) if meta is not None else None
                if (
                    meta is not None
                    and partition in meta.assignment
                    and (old is None or state.zk_version >= old.zk_version)
                ):
                    meta.states[partition] = state
            case E.WriteDone() | E.WriteFailed() | E.Reloaded():
                token = event.token if isinstance(event, E.Reloaded) else event.write_id
                if self._job is not None and token == self._awaiting:
                    self._resume(event)
            case E.LeaderAndIsrAnswered():
                self._answered(event)
            case E.LogDirFailed(brokers):
                if self.active:
                    self._queue.append(_Item("log dir", lambda: self._log_dir_failed(brokers)))
            case _:
                self._request(event)

    def _request(self, event: E.Event) -> None:
        request_id: int = event.request_id  # type: ignore[union-attr]
        if not self.active:
            self._out.append(A.Reply(request_id, self._not_controller()))
            return
        jobs: dict[type, Callable[[], Job]] = {
            E.CreateTopic: lambda: self._create_topic(event),  # type: ignore[arg-type]
            E.CreatePartitions: lambda: self._create_partitions(event),  # type: ignore[arg-type]
            E.DeleteTopic: lambda: self._delete_topic(event),  # type: ignore[arg-type]
            E.ControlledShutdown: lambda: self._controlled_shutdown(event),  # type: ignore[arg-type]
            E.PreferredElection: lambda: self._preferred(request_id),
            E.ElectLeaders: lambda: self._elect_leaders(event),  # type: ignore[arg-type]
        }
        make = jobs.get(type(event))
        if make is None:
            raise TypeError(f"not a controller event: {event!r}")
        self._queue.append(_Item(type(event).__name__, make, request_id))

    # -- running jobs --------------------------------------------------------------------------

    def _start(self, item: _Item) -> None:
        self._running, self._job = item, item.make()
        self._advance(None)

    def _resume(self, result: E.Event) -> None:
        self._advance(result)

    def _advance(self, result: E.Event | None) -> None:
        item, job = self._running, self._job
        assert item is not None and job is not None
        try:
            wait = job.send(result)  # type: ignore[arg-type]
        except StopIteration:
            self._running = self._job = None
            return
        except _FencedError:
            self._demote("another broker became controller")
            return
        except _FailedError as exc:
            self._running = self._job = None
            self._out.append(A.Note(f"controller {self.broker_id}: {item.kind} failed: {exc}", warning=True))
            if item.request_id:
                self._refuse(item.request_id, ErrorCode.NOT_CONTROLLER, f"{exc}; ask again")
            if item.retry:
                self._queue.append(
                    _Item(item.kind, item.make, retry=True)
                    if item.kind != "takeover"
                    else _Item("takeover", lambda: self._takeover(0), retry=True)
                )
            return
        self._out.append(wait)
        self._awaiting = wait.token if isinstance(wait, A.Reload) else wait.write_id  # type: ignore[union-attr]

    def _demote(self, why: str) -> None:
        """Stop acting: abandon the running job, refuse every request held."""
        was = self.active
        self.epoch, self.epoch_zk_version = -1, -1
        held = ([self._running] if self._running is not None else []) + list(self._queue)
        if self._job is not None:
            self._job.close()
        self._running = self._job = None
        self._queue.clear()
        for item in held:
            if item.request_id:
                self._out.append(A.Reply(item.request_id, self._not_controller()))
        if was:
            self._out.append(
                A.Note(f"controller {self.broker_id}: no longer acting as controller ({why})", warning=True)
            )

    def _next(self) -> int:
        self._next_id += 1
        return self._next_id

    def _refuse(self, request_id: int, code: ErrorCode, message: str) -> None:
        self._out.append(A.Reply(request_id, (code, message)))

    def _not_controller(self) -> ErrorReply:
        return ErrorCode.NOT_CONTROLLER, f"broker {self.broker_id} is not the controller (broker {self.holder} is)"

    # -- the view --------------------------------------------------------------------------------

    def _live(self) -> set[int]:
        return set(self.brokers) - self.leaving

    def _usable(self, live: set[int], topic: str, partition: int) -> set[int]:
        """The brokers of `live` whose replica of topic-partition is not on a failed disk."""
        return {b for b in live if (topic, partition) not in self.offline.get(b, ())}

    def _unclean(self, topic: str) -> bool:
        meta = self.topics.get(topic)
        value = meta.configs.get("unclean.leader.election.enable") if meta is not None else None
        return self.unclean_default if value is None else value == "true"

    def _all_partitions(self) -> list[TopicPartition]:
        return [(t, p) for t, meta in sorted(self.topics.items()) for p in sorted(meta.assignment)]

    def _offline_decide(self, live: set[int]) -> Decide:
        return lambda t, p, replicas, st: offline_election(
            replicas, st, self._usable(live, t, p), self.epoch, unclean=self._unclean(t)
        )

    def _views(self, partitions: Iterable[TopicPartition]) -> list[A.PartitionView]:
        out = []
        for t, p in partitions:
            meta = self.topics.get(t)
            if meta is not None and p in meta.states:
                out.append(A.PartitionView(t, p, meta.assignment[p], meta.states[p]))
        return out

    def _to(self, broker: int) -> Addressing:
        return Addressing(self.broker_id, self.epoch, self.brokers.get(broker, -1))

    def _send_leader_and_isr(self, partitions: Iterable[TopicPartition], to: set[int]) -> set[int]:
        """LeaderAndIsr to every broker in `to` hosting one of `partitions`; the brokers sent to."""
        per_broker: dict[int, list[A.PartitionView]] = {}
        for view in self._views(partitions):
            for r in view.replicas:
                if r in to:
                    per_broker.setdefault(r, []).append(view)
        for b, views in sorted(per_broker.items()):
            self._out.append(A.SendLeaderAndIsr(b, self._to(b), tuple(views)))
        return set(per_broker)

    def _send_update_metadata(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        """UpdateMetadata to every live broker: the given partitions' states (all if None)."""
        views = tuple(self._views(self._all_partitions() if partitions is None else partitions))
        for b in sorted(self.brokers):
            self._out.append(A.SendUpdateMetadata(b, self._to(b), views))

    def _elect_and_write(self, decide: Decide) -> Generator[A.Action, E.Event, list[TopicPartition]]:
        """Apply `decide` to every partition; write the changes in one conditional write; on
        a version conflict re-read those topics and decide again. A write whose outcome is
        unknown (coord did not answer: it may have committed) is re-read and decided again
        too, and its partitions count as changed whatever the next round finds: the
        brokers may not have been told their new states."""
        unsure: set[TopicPartition] = set()
        for _ in range(ATTEMPTS):
            changes: list[tuple[str, int, PartitionState, PartitionState]] = []
            for name, meta in sorted(self.topics.items()):
                for p, replicas in sorted(meta.assignment.items()):
                    state = meta.states.get(p)
                    new = decide(name, p, list(replicas), state) if state is not None else None
                    if state is not None and new is not None:
                        changes.append((name, p, state, new))
            if not changes:
                return sorted(tp for tp in unsure if tp[0] in self.topics)
            write_id = self._next()
            result = yield A.WriteStates(
                write_id,
                self.epoch_zk_version,
                tuple(A.StateWrite(t, p, old.zk_version, new) for t, p, old, new in changes),
            )
            if isinstance(result, E.WriteDone):
                for (t, p, old, new), version in zip(changes, result.versions, strict=True):
                    self.topics[t].states[p] = PartitionState(
                        new.leader, new.leader_epoch, new.isr, new.controller_epoch, version
                    )
                    self.leader_elections += new.leader != old.leader and new.leader >= 0
                    self._out.append(
                        A.Note(
                            f"partition {t}-{p}: leader {new.leader}, leader epoch "
                            f"{new.leader_epoch}, isr {list(new.isr)}"
                        )
                    )
                return sorted({(t, p) for t, p, _, _ in changes} | {tp for tp in unsure if tp[0] in self.topics})
            assert isinstance(result, E.WriteFailed)
            if result.failure is E.Failure.FENCED:
                raise _FencedError()
            if result.failure is E.Failure.ERROR:
                unsure |= {(t, p) for t, p, _, _ in changes}
            yield A.Reload(self._next(), tuple(sorted({c[0] for c in changes})))
        raise _FailedError("partition states kept changing under the controller")

    def _check(self, result: E.Event) -> None:
        """A failed write: fenced or coord trouble end the job; a conflict may be retried."""
        assert isinstance(result, E.WriteFailed)
        if result.failure is E.Failure.FENCED:
            raise _FencedError()
        if result.failure is E.Failure.ERROR:
            raise _FailedError("coord did not answer")

    # -- jobs: the cluster changing --------------------------------------------------------------

    def _takeover(self, request_id: int) -> Job:
        """Just won /controller: elect for whoever died meanwhile, then tell every live broker
        the whole state (our predecessor may have died between its write and its requests).

        A broker that restarted while no controller watched (this one included) is, like
        any restarted broker, taken out of the ISR and leadership first and let back in
        after: it may have lost the unflushed tail of its logs, so it must not lead the
        epoch it led before. Its registration (czxid) newer than a state's last write
        (mzxid) says it restarted since that state was decided."""
        live = self._live()
        yield from self._elect_and_write(
            lambda t, p, replicas, st: offline_election(
                replicas, st, self._usable(live, t, p) - self._restarted_since(st), self.epoch, unclean=self._unclean(t)
            )
        )
        yield from self._elect_and_write(self._offline_decide(live))  # a restarted last ISR member returns
        sent = self._send_leader_and_isr(self._all_partitions(), set(self.known))
        self._send_update_metadata()
        if request_id:
            self._out.append(A.Reply(request_id, None, frozenset(sent & {self.broker_id})))

    def _restarted_since(self, state: PartitionState) -> set[int]:
        """The ISR members registered after `state` was last written (unknown: none)."""
        if state.modified_zxid < 0:
            return set()
        return {b for b in state.isr if self.brokers.get(b, -1) > state.modified_zxid}

    def _brokers_moved(self) -> Job:
        """The broker set changed: re-elect for the dead (and restarted), tell the new."""
        now = dict(self.brokers)
        gone = {b for b, e in self.known.items() if now.get(b) != e}  # dead, or restarted
        joined = {b for b, e in now.items() if self.known.get(b) != e}
        self.leaving -= gone
        for b in gone | joined:  # a new registration starts with its disks as they are now
            self.offline.pop(b, None)
        for b in sorted(gone):
            self._out.append(A.ForgetBroker(b))
        if gone:
            self._out.append(
                A.Note(
                    f"controller {self.broker_id}: broker(s) {sorted(gone)} left (or restarted); "
                    "moving their leadership"
                )
            )
            live = self._live() - joined  # a restarted broker must not simply resume its old epoch
            changed = yield from self._elect_and_write(self._offline_decide(live))
            self._send_leader_and_isr(changed, live)
            self._send_update_metadata(changed)
        if joined:
            self._out.append(A.Note(f"controller {self.broker_id}: broker(s) {sorted(joined)} joined"))
            live = self._live()
            changed = yield from self._elect_and_write(self._offline_decide(live))
            hosted = [(t, p) for t, p in self._all_partitions() if joined & set(self.topics[t].assignment[p])]
            self._send_leader_and_isr(sorted(set(changed) | set(hosted)), live)
            self._send_update_metadata()
        self.known = now

    def _answered(self, answer: E.LeaderAndIsrAnswered) -> None:
        """Note which of a broker's replicas are offline (KAFKA_STORAGE_ERROR) or back (NONE);
        newly offline ones are elected around."""
        if not self.active:
            return
        offline = self.offline.setdefault(answer.broker, set())
        offline -= answer.applied
        new = answer.storage_errors - offline
        if new:
            offline |= new
            self._out.append(
                A.Note(
                    f"controller {self.broker_id}: broker {answer.broker}'s replicas of "
                    f"{', '.join(f'{t}-{p}' for t, p in sorted(new))} are offline "
                    "(failed log directory)"
                )
            )
            self._queue.append(_Item("offline replicas", self._replicas_offline, retry=True))

    def _replicas_offline(self) -> Job:
        """Elect around offline replicas: they leave the ISR, and lead nothing."""
        live = self._live()
        changed = yield from self._elect_and_write(self._offline_decide(live))
        self._send_leader_and_isr(changed, live)
        self._send_update_metadata(changed)

    def _log_dir_failed(self, brokers: frozenset[int]) -> Job:
        """Ask brokers with a failed log directory, by LeaderAndIsr for everything they host,
        which replicas are offline (their answers come back as LeaderAndIsrAnswered)."""
        hosted = [(t, p) for t, p in self._all_partitions() if brokers & set(self.topics[t].assignment[p])]
        self._send_leader_and_isr(hosted, set(brokers) & self._live())
        return
        yield  # a job that waits for nothing

    def _controlled_shutdown(self, req: E.ControlledShutdown) -> Job:
        """Move leadership off a broker before it stops; reply (None, what it still leads)."""
        broker = req.broker_id
        registered = self.brokers.get(broker) if isinstance(broker, int) else None
        if not isinstance(broker, int) or registered != req.broker_epoch:
            self._refuse(
                req.request_id,
                ErrorCode.STALE_BROKER_EPOCH,
                f"broker {broker} epoch {req.broker_epoch} is not its current registration ({registered})",
            )
            return
        self.leaving.add(broker)
        live = self._live()
        changed = yield from self._elect_and_write(
            lambda t, p, replicas, st: shutdown_election(replicas, st, self._usable(live, t, p), broker, self.epoch)
        )
        sent = self._send_leader_and_isr(changed, live | {broker})
        self._send_update_metadata(changed)
        remaining = [
            (t, p)
            for t, p in self._all_partitions()
            if self.topics[t].states.get(p) is not None and self.topics[t].states[p].leader == broker
        ]
        self._out.append(
            A.Note(
                f"controller {self.broker_id}: controlled shutdown of broker {broker} moved "
                f"{len(changed)} partition(s); it still leads {len(remaining)}"
            )
        )
        self._out.append(A.Reply(req.request_id, (None, remaining), frozenset(sent)))

    def _preferred(self, request_id: int) -> Job:
        """Hand leadership back to each partition's first replica when it is alive and in sync."""
        live = self._live()
        changed = yield from self._elect_and_write(
            lambda t, p, replicas, st: preferred_election(replicas, st, self._usable(live, t, p), self.epoch)
        )
        if changed:
            self._out.append(
                A.Note(f"controller {self.broker_id}: preferred leaders restored for {len(changed)} partition(s)")
            )
            self._send_leader_and_isr(changed, live)
            self._send_update_metadata(changed)
        self._out.append(A.Reply(request_id, changed))

    def _elect_leaders(self, req: E.ElectLeaders) -> Job:
        """ElectLeaders (KIP-460): each existing partition of `wanted` (all if None) -> why it
        was not elected, or None once its new leader is written and told."""
        verdicts: dict[TopicPartition, ErrorReply | None] = {}
        live = self._live()

        def decide(t: str, p: int, replicas: list[int], st: PartitionState) -> PartitionState | None:
            if req.wanted is not None and (t, p) not in req.wanted:
                return None
            new, verdicts[(t, p)] = requested_election(
                req.election_type, replicas, st, self._usable(live, t, p), self.epoch
            )
            return new

        changed = yield from self._elect_and_write(decide)
        sent = self._send_leader_and_isr(changed, live) if changed else set()
        if changed:
            self._send_update_metadata(changed)
        self._out.append(A.Reply(req.request_id, verdicts, frozenset(sent)))

    # -- jobs: topics -------------------------------------------------------------------------------

    def _create_topic(self, req: E.CreateTopic) -> Job:
        """Create a topic; a given assignment (checked by `replica_assignment`) replaces ours."""
        name = req.name
        if isinstance(name, str) and name in self.topics:
            self._refuse(req.request_id, ErrorCode.TOPIC_ALREADY_EXISTS, f"topic {name!r} already exists")
            return
        refusal = check_new_topic(name, req.num_partitions, req.replication_factor, req.configs, len(self.brokers))
        if refusal or req.validate_only:
            self._out.append(A.Reply(req.request_id, refusal))
            return
        assert isinstance(name, str) and isinstance(req.configs, dict)
        assignment = {
            p: tuple(r)
            for p, r in (
                req.assignment
                or assign_replicas(
                    req.num_partitions,  # type: ignore[arg-type]  # validated above: the request's counts are ints
                    req.replication_factor,  # type: ignore[arg-type]  # likewise
                    sorted(self.brokers),
                    racks=self.racks,
                )
            ).items()
        }
        configs = {str(k): str(v) for k, v in req.configs.items()}
        states = {p: PartitionState(r[0], 0, r, self.epoch) for p, r in assignment.items()}
        write_id = self._next()
        result = yield A.CreateTopicZnodes(write_id, self.epoch_zk_version, name, assignment, configs, states)
        if isinstance(result, E.WriteFailed):
            if result.failure is E.Failure.EXISTS:
                self._refuse(req.request_id, ErrorCode.TOPIC_ALREADY_EXISTS, f"topic {name!r} already exists")
                return
            self._check(result)
            raise _FailedError("the controller epoch check failed")
        if name not in self.topics:  # (the shell has usually read it back already)
            self.topics[name] = _Topic(
                assignment,
                configs,
                {p: PartitionState(s.leader, s.leader_epoch, s.isr, s.controller_epoch, 0) for p, s in states.items()},
            )
        self._out.append(
            A.Note(
                f"created topic {name}: {len(assignment)} partition(s), replication factor "
                f"{len(assignment[0])}, configs {configs}"
            )
        )
        partitions = [(name, p) for p in sorted(assignment)]
        sent = self._send_leader_and_isr(partitions, set(self.brokers))
        self._send_update_metadata(partitions)
        self._out.append(A.Reply(req.request_id, None, frozenset(sent)))

    def _create_partitions(self, req: E.CreatePartitions) -> Job:
        """Grow a topic (CreatePartitions): the new partitions get replicas round robin after
        the existing ones, or as the request's assignment says."""
        name, count = req.name, req.count
        topic = self.topics.get(name) if isinstance(name, str) else None
        if topic is None:
            self._refuse(req.request_id, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {name!r} does not exist")
            return
        assert isinstance(name, str)
        current = len(topic.assignment)
        if type(count) is not int or not current < count <= MAX_PARTITIONS:
            self._refuse(
                req.request_id,
                ErrorCode.INVALID_PARTITIONS,
                f"topic {name!r} has {current} partition(s); the count can only grow, up to "
                f"{MAX_PARTITIONS}, not to {count!r}",
            )
            return
        factor = len(topic.assignment[min(topic.assignment)])
        live = sorted(self.brokers)
        if factor > len(live):
            self._refuse(
                req.request_id,
                ErrorCode.INVALID_REPLICATION_FACTOR,
                f"topic {name!r} has replication factor {factor} but only {len(live)} broker(s) are live",
            )
            return
        if req.validate_only:
            self._out.append(A.Reply(req.request_id, None))
            return
        chosen = (
            dict(enumerate(req.assignment))
            if req.assignment
            else assign_replicas(count - current, factor, live, start=current, racks=self.racks)
        )
        added = {current + p: tuple(r) for p, r in chosen.items()}
        states = {p: PartitionState(r[0], 0, r, self.epoch) for p, r in added.items()}
        write_id = self._next()
        result = yield A.AddPartitionZnodes(
            write_id, self.epoch_zk_version, name, {**topic.assignment, **added}, states
        )
        if isinstance(result, E.WriteFailed):
            if result.failure is E.Failure.FENCED:
                raise _FencedError()
            self._refuse(
                req.request_id, ErrorCode.NOT_CONTROLLER, "the topic or the controller changed meanwhile; ask again"
            )
            return
        topic = self.topics.get(name) or topic
        for p, r in added.items():
            topic.assignment.setdefault(p, r)
            topic.states.setdefault(p, PartitionState(r[0], 0, r, self.epoch, 0))
        self.topics[name] = topic
        self._out.append(A.Note(f"topic {name}: partitions {current}-{count - 1} added"))
        partitions = [(name, p) for p in sorted(added)]
        sent = self._send_leader_and_isr(partitions, set(self.brokers))
        self._send_update_metadata(partitions)
        self._out.append(A.Reply(req.request_id, None, frozenset(sent)))

    def _delete_topic(self, req: E.DeleteTopic) -> Job:
        """StopReplica (delete) to every live replica, then the topic's znodes go."""
        name = req.name
        topic = self.topics.get(name) if isinstance(name, str) else None
        if topic is None:
            self._refuse(req.request_id, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {name!r} does not exist")
            return
        assert isinstance(name, str)
        del self.topics[name]
        hosts: dict[int, list[TopicPartition]] = {}
        for partition, replicas in sorted(topic.assignment.items()):
            for r in replicas:
                hosts.setdefault(r, []).append((name, partition))
        sent = set()
        for b, ps in sorted(hosts.items()):
            if b in self.brokers:
                self._out.append(A.SendStopReplica(b, self._to(b), tuple(ps)))
                sent.add(b)
        self._out.append(A.DeleteTopicZnodes(name))
        self._out.append(A.Note(f"deleted topic {name}"))
        self._out.append(A.Reply(req.request_id, None, frozenset(sent)))
        return
        yield  # nothing to wait for: the shell deletes the znodes once the replicas stopped
