"""Controller cores of several brokers, their replicas and a model of coord, under the simulator.

Every broker runs the real `ControllerCore` (broker/metadata/controller_core.py) and, for
each partition it hosts, the real replication core (`Replica`), driven as
tests/broker_replication/sim.py drives it. Around them, the parts a broker has in production are
modelled on the virtual clock (tests/sim/clock.py):

- coord: sessions kept by heartbeats and expired after SESSION_TIMEOUT (their ephemeral
  /brokers/ids/<id> and /controller go, watches fire); /controller_epoch with its
  version; partition-state znodes with versions; conditional writes exactly as the shell
  sends them (epoch check first, then each state at its expected version); writes that
  fail with connection loss before or after they commit; watches that fire late; a
  restarted broker that replaces its previous run's registration and /controller node.
  A broker talks to coord over one FIFO link (as a coord connection is), cut by
  partitions and held while the broker is paused.
- the controller channel: one FIFO queue per addressee, retried while the addressee is
  registered, dropped on ForgetBroker; the addressee refuses a stale controller epoch or
  broker epoch, as the LeaderAndIsr handler does;
- the shell's session handling: SUSPENDED after SUSPEND_AFTER without an answer from
  coord (EpochLost), resumed (ControllerVacant) when answers come back, rejoin with a new
  session and registration when coord says the session expired.

Faults from the seed: clean crashes and restarts, pauses (SIGSTOP), a broker cut off from
coord or from everyone, coord write failures, and admin requests (preferred and unclean
ElectLeaders, preferred rebalancing, controlled shutdown followed by a stop). One topic
has unclean.leader.election.enable=true.

Checked after every event: a write committed at coord was made at the current controller
epoch (a deposed controller's writes are refused); controller epochs only grow; in a
topic without unclean election, a write that changes the leader picks it from the ISR it
replaces; no acknowledged acks=all record is missing from the current leader of a clean
topic. After healing: every partition has a live leader that leads at the epoch coord
holds. Replay one seed: python -m tests.sim.controller_soak --seed SEED.
It must never read the real clock or draw randomness from anything but the seed.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from broker.metadata import controller_actions as A
from broker.metadata import controller_events as E
from broker.metadata.controller_core import ControllerCore
from broker.metadata.requested_election import PREFERRED, UNCLEAN
from broker.metadata.znodes import PartitionState
from broker.replication import ErrorCode, Replica
from broker.replication.messages import (
    ACKS_ALL,
    BecomeFollower,
    BecomeLeader,
    CompleteProduce,
    IsrChangeResult,
    Produce,
    ProposeIsr,
    ReplyEpochQuery,
    ReplyFetch,
    SendEpochQuery,
    SendFetch,
    Tick,
)
from tests.broker_replication.memlog import MemoryLog
from tests.sim.clock import Scheduler
from tests.sim.network import Network
from tests.sim.seeds import SimFailureError

COORD = 100
CLIENT = 200
TICK = 0.05
SESSION_TIMEOUT = 0.4
SUSPEND_AFTER = 0.15  # without an answer from coord, the connection is SUSPENDED
CHANNEL_RETRY = 0.2
SHELL_DELAY = 0.3  # share of coord writes the shell sends late (after a session change, maybe)
LOSS_DETECT = 0.3  # a coord request on a cut link fails after this (ConnectionLoss)
TOPICS = {"clean": 2, "dirty": 1}  # partitions; "dirty" allows unclean election
RF = 3
MIN_ISR = 2

TP = tuple[str, int]


def replay_command(seed: int) -> str:
    return f"python -m tests.sim.controller_soak --seed {seed} --trace"


# ---- coord ---------------------------------------------------------------------------------


@dataclass
class Session:
    broker: int
    last_heard: float
    alive: bool = True


@dataclass
class Coord:
    """The znodes the controller touches, with versions, and the sessions that own ephemerals."""

    zxid: int = 0
    sessions: dict[int, Session] = field(default_factory=dict)
    registered: dict[int, tuple[int, int]] = field(default_factory=dict)  # broker -> (czxid, session)
    controller: tuple[int, int] | None = None  # (broker, session)
    epoch: int = 0
    epoch_version: int = 0
    states: dict[TP, PartitionState] = field(default_factory=dict)
    assignment: dict[TP, tuple[int, ...]] = field(default_factory=dict)
    configs: dict[str, dict[str, str]] = field(default_factory=dict)

    def next_zxid(self) -> int:
        self.zxid += 1
        return self.zxid


# ---- one broker ------------------------------------------------------------------------------


@dataclass
class Broker:
    bid: int
    core: ControllerCore
    logs: dict[TP, MemoryLog]
    replicas: dict[TP, Replica] = field(default_factory=dict)
    hw: dict[TP, int] = field(default_factory=dict)
    up: bool = True
    paused: bool = False
    session: int = 0
    broker_epoch: int = -1
    last_answer: float = 0.0
    suspended: bool = False
    controller_epoch_seen: int = -1
    incarnation: int = 0


class ControllerCluster:
    def __init__(self, seed: int, *, brokers: int = 3, seconds: float = 4.0) -> None:
        self.seed, self.seconds = seed, seconds
        self.rng = random.Random(seed)
        self.sched = Scheduler()
        self.net = Network(self.sched, random.Random(self.rng.random()), self._deliver)
        self.net.faults.drop, self.net.faults.duplicate, self.net.faults.max_delay = 0.02, 0.01, 0.02
        self.coord = Coord()
        self.trace: list[str] = []
        self.ids = list(range(1, brokers + 1))
        self.link_last: dict[tuple[int, int], float] = {}  # FIFO coord links: last arrival
        self.coord_cut: set[int] = set()  # brokers cut off from coord
        self.channels: dict[tuple[int, int], deque[tuple[int, object]]] = {}
        self.channel_busy: set[tuple[int, int]] = set()
        self.channel_gen: dict[tuple[int, int], int] = {}
        self.write_fault = 0.05
        self.acked: dict[TP, list[tuple[int, object]]] = {tp: [] for tp in self._partitions()}
        self.inflight: dict[int, tuple[TP, object]] = {}
        self.checked: dict[TP, tuple[object, int]] = {}  # what _check already verified on which leader
        self.lost_tail: dict[TP, dict[int, int]] = {tp: {} for tp in self._partitions()}  # broker -> zxid of
        # its lossy crash, until it is back in the ISR
        self.next_record = 0
        self.committed_epochs: list[int] = []
        self.requests = 0
        self.answers: dict[int, object] = {}
        self.nodes: dict[int, Broker] = {}
        self.held: dict[int, list[Callable[[], None]]] = {}  # run in a paused broker once it resumes
        for i, (name, count) in enumerate(sorted(TOPICS.items())):
            self.coord.configs[name] = {"unclean.leader.election.enable": "true"} if name == "dirty" else {}
            for p in range(count):
                replicas = tuple(self.ids[(i + p + k) % brokers] for k in range(RF))
                self.coord.assignment[(name, p)] = replicas
                self.coord.states[(name, p)] = PartitionState(replicas[0], 0, replicas, 0, 0)
        for b in self.ids:
            self.nodes[b] = Broker(
                b, ControllerCore(b), {tp: MemoryLog() for tp, r in self.coord.assignment.items() if b in r}
            )
            self._boot(b)
        for tp, st in self.coord.states.items():  # the topics are created once the brokers registered
            self.coord.states[tp] = PartitionState(st.leader, 0, st.isr, 0, 0, self.coord.next_zxid())
        for b in self.ids:
            self._load_all(b)

    def _partitions(self) -> list[TP]:
        return [(t, p) for t, n in sorted(TOPICS.items()) for p in range(n)]

    def fail(self, what: str) -> None:
        raise SimFailureError(self.seed, self.sched.now, what, replay_command(self.seed))

    def note(self, text: str) -> None:
        self.trace.append(f"{self.sched.now:8.3f} {text}")

    # ---- the run ---------------------------------------------------------------------------

    def run(self, liveness_budget: float = 4.0) -> None:
        s = self.sched
        s.every(TICK, self._tick, start=0.01)
        s.every(0.04, self._produce, start=0.3)
        s.after(self.rng.uniform(0.3, 0.8), self._fault)
        s.run_until(self.seconds, after_step=self._check)
        self.write_fault = 0.0
        self.net.heal()
        self.coord_cut.clear()
        for b, node in self.nodes.items():
            if node.paused:
                self._resume(b)
            if not node.up:
                self._restart(b)
        for b in self.ids:
            self._resync(b)
        s.run_until(self.seconds + liveness_budget, stop=self._settled, after_step=self._check)
        if not self._settled():
            self.fail(f"not every partition has a live leader after healing: {self._leadership()}")

    # ---- brokers: lifecycle ----------------------------------------------------------------------

    def _boot(self, b: int) -> None:
        """Start (or restart) broker b: a new session and registration, replicas from the
        flushed logs, then the controller's start (load everything, contend)."""
        node = self.nodes[b]
        node.incarnation += 1
        node.core = ControllerCore(b)
        node.replicas = {}
        node.controller_epoch_seen = -1
        self._new_session(b)

    def _new_session(self, b: int) -> None:
        node = self.nodes[b]
        c = self.coord
        node.session = c.next_zxid()
        c.sessions[node.session] = Session(b, self.sched.now)
        czxid = c.next_zxid()  # a previous run's registration is replaced (same endpoints)
        c.registered[b] = (czxid, node.session)
        node.broker_epoch = czxid
        node.last_answer = self.sched.now
        node.suspended = False
        for tp, log in node.logs.items():
            rep = node.replicas.get(tp)
            if rep is None:
                node.replicas[tp] = Replica(
                    b,
                    log,
                    broker_epoch=czxid,
                    high_watermark=node.hw.get(tp, 0),
                    min_insync_replicas=MIN_ISR,
                    replica_lag_time_max_ms=300,
                    fetch_retry_ms=100,
                )
            else:
                rep.broker_epoch = czxid
        self.note(f"broker {b} registers (session {node.session}, broker epoch {czxid})")
        self._watch_all("brokers")
        self._feed(b, E.EpochLost())
        self._load_all(b)
        self._feed(b, E.ControllerVacant())

    def _load_all(self, b: int) -> None:
        """What MetadataStore.load_all gives the core: the brokers and every topic, now."""
        self._feed(b, self._brokers_event())
        for t in sorted(TOPICS):
            self._feed(b, E.TopicLoaded(self._topic_view(t)))

    def _brokers_event(self) -> E.BrokersChanged:
        return E.BrokersChanged({b: czxid for b, (czxid, _) in self.coord.registered.items()})

    def _topic_view(self, t: str) -> E.TopicView:
        c = self.coord
        return E.TopicView(
            t,
            {p: c.assignment[(t, p)] for tt, p in c.assignment if tt == t},
            dict(c.configs[t]),
            {p: c.states[(t, p)] for tt, p in c.states if tt == t},
        )

    def _crash(self, b: int, *, lossy: bool = False) -> None:
        """Stop broker b: cleanly (its logs flushed), or losing the unflushed tail of every
        log, which only the other replicas still hold."""
        node = self.nodes[b]
        if not node.up:
            return
        self.note(f"broker {b} crashes{' losing its unflushed writes' if lossy else ''}")
        node.up = False
        self.net.down.add(b)
        self.held.pop(b, None)
        for tp, log in node.logs.items():
            if not lossy:
                log.flush()
                node.hw[tp] = node.replicas[tp].high_watermark
            else:
                self.lost_tail[tp][b] = self.coord.next_zxid()
            log.crash()

    def _others_hold_everything(self, b: int) -> bool:
        """Every other replica of every partition b hosts is running and in the ISR: losing
        b's unflushed tail loses nothing acknowledged (short of Kafka's "last replica
        standing" hole, which this simulation does not test)."""
        return all(
            self._running(r) and r in self.coord.states[tp].isr
            for tp in self.nodes[b].logs
            for r in self.coord.assignment[tp]
            if r != b
        )

    def _restart(self, b: int) -> None:
        node = self.nodes[b]
        if node.up:
            return
        node.up = True
        node.paused = False
        self.net.down.discard(b)
        self.note(f"broker {b} restarts")
        self._boot(b)

    def _pause(self, b: int) -> None:
        node = self.nodes[b]
        if node.up and not node.paused:
            self.note(f"broker {b} paused")
            node.paused = True
            self.net.pause(b)

    def _resume(self, b: int) -> None:
        node = self.nodes[b]
        if node.paused:
            self.note(f"broker {b} resumed")
            node.paused = False
            self.net.resume(b)
            for fn in self.held.pop(b, []):
                fn()

    def _running(self, b: int) -> bool:
        node = self.nodes.get(b)
        return node is not None and node.up and not node.paused

    def _at_broker(self, b: int, incarnation: int, session: int, fn: Callable[[], None]) -> None:
        """Run fn in broker b's process: dropped if that run (or session) is gone, held while paused."""
        node = self.nodes[b]
        if not node.up or node.incarnation != incarnation or node.session != session:
            return
        if node.paused:
            self.held.setdefault(b, []).append(lambda: self._at_broker(b, incarnation, session, fn))
            return
        fn()

    # ---- the coord link (FIFO, cut by partitions) ---------------------------------------------------

    def _link_ok(self, b: int) -> bool:
        return b not in self.coord_cut and (b, COORD) not in self.net.blocked and (COORD, b) not in self.net.blocked

    def _hop(self, src: int, dst: int, fn: Callable[[], None], lost: Callable[[], None]) -> None:
        """One message between a broker and coord, in order on that link; `lost` if cut."""
        b = src if dst == COORD else dst
        if not self._link_ok(b):
            lost()
            return
        key = (src, dst)
        when = max(self.sched.now + self.rng.uniform(0.001, 0.01), self.link_last.get(key, 0.0))
        self.link_last[key] = when
        self.sched.at(when, lambda: fn() if self._link_ok(b) else lost())

    def _call(
        self,
        b: int,
        at_coord: Callable[[], Callable[[], None] | None],
        on_lost: Callable[[], None] | None = None,
        *,
        any_session: bool = False,
    ) -> None:
        """A request from broker b to coord and its answer. `at_coord()` runs at coord while
        b's session lives (or always, with any_session) and returns what then runs at b.
        A lost hop (link cut, session gone) runs `on_lost` at b after LOSS_DETECT, as a
        coord client fails its outstanding requests on connection loss."""
        node = self.nodes[b]
        session, incarnation = node.session, node.incarnation

        def lost() -> None:
            if on_lost is not None:
                self.sched.after(LOSS_DETECT, lambda: self._at_broker(b, incarnation, session, on_lost))

        def at_coord_side() -> None:
            if not any_session and not self.coord.sessions[session].alive:
                lost()
                return
            then = at_coord()
            if then is not None:
                self._hop(COORD, b, lambda: self._at_broker(b, incarnation, session, then), lost)

        self._hop(b, COORD, at_coord_side, lost)

    def _watch_all(self, what: str, topic: str = "", partition: int = -1) -> None:
        """A watch fires at every live session; the broker re-reads (sometimes late)."""
        for b in self.ids:
            node = self.nodes.get(b)
            if node is None or not node.up or not self.coord.sessions[node.session].alive:
                continue
            late = self.rng.uniform(0.05, 0.4) if self.rng.random() < 0.2 else 0.0
            session, incarnation = node.session, node.incarnation
            self._hop(
                COORD,
                b,
                lambda b=b, s=session, i=incarnation, late=late: self.sched.after(
                    late, lambda: self._at_broker(b, i, s, lambda: self._reread(b, what, topic, partition))
                ),
                lambda: None,
            )

    def _reread(self, b: int, what: str, topic: str, partition: int) -> None:
        """The store's re-read after a watch: a read at coord, answered over the link."""

        def read() -> Callable[[], None] | None:
            if what == "brokers":
                event: E.Event = self._brokers_event()
            elif what == "state":
                event = E.StateChanged(topic, partition, self.coord.states[(topic, partition)])
            elif self.coord.controller is None:
                event = E.ControllerVacant()
            else:
                return None
            return lambda: self._feed(b, event)

        self._call(b, read)

    # ---- the controller shell -------------------------------------------------------------------------

    def _feed(self, b: int, event: E.Event) -> None:
        node = self.nodes[b]
        for action in node.core.step(event):
            self._perform(b, action)

    def _perform(self, b: int, action: A.Action) -> None:
        match action:
            case A.Note(text):
                self.note(f"[{b}] {text}")
            case A.Acting():
                pass
            case A.ContendForController():
                self._call(b, lambda: self._race(b), lambda: self._race_lost(b))
            case A.WriteStates() | A.CreateTopicZnodes() | A.AddPartitionZnodes():
                self._coord_write(b, action)
            case A.Reload(token, topics):

                def reload() -> Callable[[], None]:
                    events = [E.TopicLoaded(self._topic_view(t)) for t in topics] + [E.Reloaded(token)]
                    return lambda: [self._feed(b, e) for e in events]  # type: ignore[func-returns-value]

                self._call(b, reload, lambda: self._feed(b, E.Reloaded(token)))
            case A.SendLeaderAndIsr(to_broker, to, views):
                self._channel_send(b, to_broker, ("lai", to, views))
            case A.SendUpdateMetadata() | A.SendStopReplica():
                pass
            case A.ForgetBroker(gone):
                key = (b, gone)
                self.channels.pop(key, None)
                self.channel_busy.discard(key)
                self.channel_gen[key] = self.channel_gen.get(key, 0) + 1
            case A.Reply(request_id, answer):
                self.answers[request_id] = answer
            case A.DeleteTopicZnodes():
                self.fail("the simulation never deletes topics")

    def _race_lost(self, b: int) -> None:
        """The race's answer was lost with the connection: the shell hears connection loss
        (SUSPENDED), and on reconnect races again (the multi may have won /controller)."""
        self.nodes[b].suspended = True
        self._feed(b, E.RaceLost(-1))

    def _race(self, b: int) -> Callable[[], None]:
        """At coord: ContendForController, as the shell's multi (create /controller, bump
        the epoch) and its clean-up of this broker's own stale /controller node."""
        c, node = self.coord, self.nodes[b]
        holder = c.controller
        if holder is not None and holder[0] != b:
            return lambda: self._feed(b, E.RaceLost(holder[0]))
        c.controller = (b, node.session)
        c.epoch += 1
        c.epoch_version += 1
        self.committed_epochs.append(c.epoch)
        epoch, version = c.epoch, c.epoch_version
        self.note(f"broker {b} wins /controller at epoch {epoch}")
        self._watch_all("controller")

        def won() -> None:
            self._load_all(b)
            self._feed(b, E.EpochWon(epoch, version))

        return won

    def _coord_write(self, b: int, action: A.WriteStates | A.CreateTopicZnodes | A.AddPartitionZnodes) -> None:
        fault = self.rng.random()

        def lost() -> None:  # connection loss: the shell reports ERROR (after its backoff)
            self._feed(b, E.WriteFailed(action.write_id, E.Failure.ERROR))

        def commit() -> Callable[[], None]:
            if fault < self.write_fault / 2:
                return lost  # failed before it committed
            result = self._apply_write(b, action)
            if fault < self.write_fault:
                return lost  # committed, but the answer never came
            return lambda: self._feed(b, result)

        if self.rng.random() < SHELL_DELAY:
            # The shell's write task is slow to send (a read first, a backoff): by then the
            # coord client may hold a new session, and the multi goes out on it.
            incarnation = self.nodes[b].incarnation
            self.sched.after(
                self.rng.uniform(0.1, 1.0),
                lambda: (
                    self._at_broker(b, incarnation, self.nodes[b].session, lambda: self._call(b, commit, lost))
                    if self.nodes[b].incarnation == incarnation
                    else None
                ),
            )
            return
        self._call(b, commit, lost)

    def _apply_write(self, b: int, action: A.WriteStates | A.CreateTopicZnodes | A.AddPartitionZnodes) -> E.Event:
        c = self.coord
        if not isinstance(action, A.WriteStates):
            raise TypeError(f"the simulation creates no topics, yet broker {b} wrote {action}")
        if action.epoch_zk_version != c.epoch_version:
            self.note(f"broker {b}'s write refused: epoch version {action.epoch_zk_version} is not {c.epoch_version}")
            return E.WriteFailed(action.write_id, E.Failure.FENCED)
        for w in action.writes:
            if c.states[(w.topic, w.partition)].zk_version != w.expected_version:
                return E.WriteFailed(action.write_id, E.Failure.CONFLICT)
        for w in action.writes:
            if w.state.controller_epoch != c.epoch:
                self.fail(
                    f"broker {b}'s write at controller epoch {w.state.controller_epoch} passed the epoch "
                    f"check while coord's epoch is {c.epoch}"
                )
        versions = []
        for w in action.writes:
            tp = (w.topic, w.partition)
            old = c.states[tp]
            self._check_election(tp, old, w.state)
            self._last_standing(tp, old, w.state)
            c.states[tp] = PartitionState(
                w.state.leader,
                w.state.leader_epoch,
                w.state.isr,
                w.state.controller_epoch,
                old.zk_version + 1,
                c.next_zxid(),
            )
            versions.append(old.zk_version + 1)
            self.note(
                f"coord: {tp} <- leader {w.state.leader} epoch {w.state.leader_epoch} isr "
                f"{list(w.state.isr)} (by controller {b})"
            )
            self._watch_all("state", *tp)
        return E.WriteDone(action.write_id, tuple(versions))

    def _last_standing(self, tp: TP, old: PartitionState, new: PartitionState) -> None:
        """A replica that lost its unflushed tail, elected because every other ISR member
        is down or itself restarted unwatched (no controller can tell which restart lost
        data: Kafka's "last replica standing" and KIP-966's unclean-shutdown cases), may
        lack acknowledged records. The checks start again from here for that partition."""
        lost_at = self.lost_tail[tp].get(new.leader)
        if new.leader == old.leader or lost_at is None:
            return
        registered = self.coord.registered
        if all(r not in registered or registered[r][0] > lost_at for r in old.isr if r != new.leader):
            self.note(
                f"{tp}: broker {new.leader}, which lost its unflushed tail, leads as the last ISR member "
                "standing; acknowledged records before this are not checked"
            )
            self.acked[tp] = []
            self.checked.pop(tp, None)

    def _check_election(self, tp: TP, old: PartitionState, new: PartitionState) -> None:
        if new.leader != old.leader and new.leader >= 0 and new.leader not in new.isr:
            self.fail(f"{tp}: leader {new.leader} outside the ISR {list(new.isr)} it was written with")
        unclean = self.coord.configs[tp[0]].get("unclean.leader.election.enable") == "true"
        if not unclean and new.leader != old.leader and new.leader >= 0 and new.leader not in old.isr:
            self.fail(
                f"{tp}: leader {new.leader} elected from outside the ISR {list(old.isr)} (unclean election "
                "is off for this topic)"
            )
        if new.leader_epoch < old.leader_epoch:
            self.fail(f"{tp}: leader epoch went back from {old.leader_epoch} to {new.leader_epoch}")

    # ---- the controller channel ----------------------------------------------------------------------

    def _channel_send(self, src: int, dst: int, msg: object) -> None:
        key = (src, dst)
        self.channels.setdefault(key, deque()).append((self.channel_gen.get(key, 0), msg))
        self._channel_pump(key)

    def _channel_pump(self, key: tuple[int, int]) -> None:
        src, dst = key
        queue = self.channels.get(key)
        if not queue or key in self.channel_busy:
            return
        self.channel_busy.add(key)
        incarnation = self.nodes[src].incarnation

        def attempt() -> None:
            self.channel_busy.discard(key)
            queue = self.channels.get(key)
            if not queue or not self._running(src) or self.nodes[src].incarnation != incarnation:
                return
            gen, msg = queue[0]
            reachable = self._running(dst) and (src, dst) not in self.net.blocked
            if reachable and gen == self.channel_gen.get(key, 0):
                queue.popleft()
                self._handle_order(dst, msg)
                self._channel_pump(key)
                return
            self.channel_busy.add(key)
            self.sched.after(CHANNEL_RETRY, attempt)

        self.sched.after(self.rng.uniform(0.001, 0.01), attempt)

    def _handle_order(self, b: int, msg: object) -> None:
        """LeaderAndIsr at broker b, as replica_control and the replica manager handle it."""
        _, to, views = msg  # type: ignore[misc]
        node = self.nodes[b]
        if to.controller_epoch < node.controller_epoch_seen or to.broker_epoch < node.broker_epoch:
            return
        node.controller_epoch_seen = to.controller_epoch
        for v in views:
            tp = (v.topic, v.partition)
            if tp not in node.replicas:
                continue
            st = v.state
            order = (
                BecomeLeader(st.leader_epoch, frozenset(st.isr), v.replicas, st.zk_version, node.broker_epoch)
                if st.leader == b
                else BecomeFollower(st.leader, st.leader_epoch, node.broker_epoch)
            )
            self._step(b, tp, order)

    # ---- replication ----------------------------------------------------------------------------------

    def _step(self, b: int, tp: TP, event: object) -> None:
        if not self._running(b):
            return
        rep = self.nodes[b].replicas[tp]
        for action in rep.step(event, int(self.sched.now * 1000)):  # type: ignore[arg-type]
            match action:
                case SendFetch(leader, req) | SendEpochQuery(leader, req):
                    self.net.send(b, leader, (tp, req))  # type: ignore[arg-type]
                case ReplyFetch(to, resp) | ReplyEpochQuery(to, resp):
                    if to >= 0:
                        self.net.send(b, to, (tp, resp))  # type: ignore[arg-type]
                case ProposeIsr():
                    self._propose_isr(b, tp, action)
                case CompleteProduce():
                    self.net.send(b, CLIENT, action)  # type: ignore[arg-type]

    def _propose_isr(self, b: int, tp: TP, proposal: ProposeIsr) -> None:
        """The IsrWriter: setData at the expected version; a BadVersion whose stored state is
        already ours counts as accepted."""

        def write() -> Callable[[], None]:
            c = self.coord
            st = c.states[tp]
            mine = PartitionState(b, proposal.leader_epoch, tuple(sorted(proposal.isr)), st.controller_epoch)
            if st.zk_version == proposal.expected_version:
                self._check_election(tp, st, mine)
                for r in set(mine.isr) - set(st.isr):  # caught up: back in the ISR
                    self.lost_tail[tp].pop(r, None)
                c.states[tp] = PartitionState(
                    mine.leader, mine.leader_epoch, mine.isr, mine.controller_epoch, st.zk_version + 1, c.next_zxid()
                )
                self.note(f"coord: {tp} <- isr {list(mine.isr)} (by leader {b})")
                self._watch_all("state", *tp)
                result = IsrChangeResult(proposal, True, st.zk_version + 1)
            else:
                same = (st.leader, st.leader_epoch, set(st.isr)) == (b, proposal.leader_epoch, set(proposal.isr))
                result = IsrChangeResult(proposal, same, st.zk_version)
            return lambda: self._step(b, tp, result)

        self._call(b, write, lambda: self._propose_isr(b, tp, proposal))  # retried, as the IsrWriter does

    def _deliver(self, dst: int, src: int, payload: object) -> None:
        if dst == CLIENT:
            self._acked(payload)  # type: ignore[arg-type]
            return
        if not self._running(dst):
            return
        tp, event = payload  # type: ignore[misc]
        self._step(dst, tp, event)

    def _tick(self) -> None:
        c = self.coord
        for b in self.ids:
            node = self.nodes[b]
            if not self._running(b):
                continue
            for tp in sorted(node.replicas):
                self._step(b, tp, Tick())
                if self.rng.random() < 0.3:
                    node.logs[tp].flush()
                    node.hw[tp] = node.replicas[tp].high_watermark
            self._call(b, lambda b=b, s=node.session: self._heartbeat(b, s), any_session=True)
            if not node.suspended and self.sched.now - node.last_answer > SUSPEND_AFTER:
                node.suspended = True
                self.note(f"broker {b}: coord connection suspended")
                self._feed(b, E.EpochLost())
        for sid, s in list(c.sessions.items()):
            if s.alive and self.sched.now - s.last_heard > SESSION_TIMEOUT:
                self._expire(sid)

    def _heartbeat(self, b: int, session: int) -> Callable[[], None]:
        alive = self.coord.sessions[session].alive
        if alive:
            self.coord.sessions[session].last_heard = self.sched.now
        return lambda: self._answered(b, alive)

    def _answered(self, b: int, alive: bool) -> None:
        node = self.nodes[b]
        node.last_answer = self.sched.now
        if not alive:
            self.note(f"broker {b}: session expired; rejoining")
            self._new_session(b)
        elif node.suspended:
            node.suspended = False
            self.note(f"broker {b}: coord connection back")
            self._feed(b, E.ControllerVacant())  # Controller.resume

    def _expire(self, sid: int) -> None:
        c = self.coord
        s = c.sessions[sid]
        s.alive = False
        self.note(f"coord: session {sid} of broker {s.broker} expired")
        if c.registered.get(s.broker, (0, -1))[1] == sid:
            del c.registered[s.broker]
            self._watch_all("brokers")
        if c.controller is not None and c.controller[1] == sid:
            c.controller = None
            self._watch_all("controller")
        # The broker hears of it at its next heartbeat answer (it was paused or cut off).

    def _resync(self, b: int) -> None:
        """The link is back after a cut: watches set before fire now (the store re-reads)."""
        node = self.nodes[b]
        if node.up:
            reads = [("brokers", "", -1), ("controller", "", -1)] + [("state", t, p) for t, p in self._partitions()]
            for what, t, p in reads:
                self._at_broker(
                    b, node.incarnation, node.session, lambda what=what, t=t, p=p: self._reread(b, what, t, p)
                )

    # ---- clients ---------------------------------------------------------------------------------------

    def _produce(self) -> None:
        if self.sched.now > self.seconds:
            return
        for tp in self._partitions():
            leader = self.coord.states[tp].leader
            if leader < 0:
                continue
            self.next_record += 1
            record = f"r{self.next_record}"
            self.inflight[self.next_record] = (tp, record)
            self.net.send(CLIENT, leader, (tp, Produce(self.next_record, (record,), ACKS_ALL, timeout_ms=800)))  # type: ignore[arg-type]

    def _acked(self, done: CompleteProduce) -> None:
        tp, record = self.inflight.pop(done.request_id, (None, None))
        if tp is not None and done.error == ErrorCode.NONE:
            self.acked[tp].append((done.base_offset, record))

    def _request(self, b: int, make: Callable[[int], E.Event]) -> None:
        self.requests += 1
        self._feed(b, make(self.requests))

    # ---- faults -----------------------------------------------------------------------------------------

    def _fault(self) -> None:
        if self.sched.now > self.seconds:
            return
        kind = self.rng.choice(["crash", "crash", "pause", "cut", "isolate", "elect", "shutdown", "none"])
        down = [b for b in self.ids if not self.nodes[b].up]
        controller = next((b for b in self.ids if self.nodes[b].core.active and self._running(b)), None)
        # Faults hit the controller half the time: its moves are what this simulation is about.
        victim = controller if controller is not None and self.rng.random() < 0.5 else self.rng.choice(self.ids)
        if kind == "crash" and not down:
            lossy = self._others_hold_everything(victim) and self.rng.random() < 0.5
            self._crash(victim, lossy=lossy)
            # Back within the session timeout sometimes: a bounce the controller must notice.
            self.sched.after(self.rng.uniform(0.05, 1.5), lambda: self._restart(victim))
        elif kind == "pause":
            self._pause(victim)
            self.sched.after(self.rng.uniform(0.1, 0.9), lambda: self._resume(victim))
        elif kind == "cut":
            self.coord_cut.add(victim)
            self.note(f"broker {victim} cut off from coord")

            def heal() -> None:
                self.coord_cut.discard(victim)
                self.note(f"broker {victim} reaches coord again")
                self._resync(victim)

            self.sched.after(self.rng.uniform(0.1, 1.0), heal)
        elif kind == "isolate":
            rest = [b for b in self.ids if b != victim] + [COORD, CLIENT]
            self.net.partition([[victim], rest])
            self.note(f"broker {victim} isolated")

            def heal_all() -> None:
                self.net.heal()
                self.note("network healed")
                self._resync(victim)

            self.sched.after(self.rng.uniform(0.2, 1.2), heal_all)
        elif kind == "elect" and controller is not None:
            choice = self.rng.choice(["preferred", "unclean", "rebalance"])
            if choice == "rebalance":
                self._request(controller, E.PreferredElection)
            else:
                # An operator's unclean election may lose data: only where the topic allows it anyway.
                kind_id, wanted = (PREFERRED, None) if choice == "preferred" else (UNCLEAN, frozenset({("dirty", 0)}))
                self._request(controller, lambda rid: E.ElectLeaders(rid, kind_id, wanted))
        elif kind == "shutdown" and controller is not None and not down:
            epoch = self.coord.registered.get(victim, (-1, 0))[0]
            self._request(controller, lambda rid: E.ControlledShutdown(rid, victim, epoch))
            self.sched.after(self.rng.uniform(0.05, 0.3), lambda: self._crash(victim))
            self.sched.after(self.rng.uniform(0.5, 1.5), lambda: self._restart(victim))
        self.sched.after(self.rng.uniform(0.2, 0.7), self._fault)

    # ---- checks -------------------------------------------------------------------------------------------

    def _check(self) -> None:
        epochs = self.committed_epochs
        if len(epochs) > 1 and epochs[-1] <= epochs[-2]:
            self.fail(f"controller epoch went from {epochs[-2]} to {epochs[-1]}")
        for tp in self._partitions():
            if self.coord.configs[tp[0]].get("unclean.leader.election.enable") == "true":
                continue
            rep = self._leader(tp)
            if rep is None:
                continue
            have, acked = rep.log.records(), self.acked[tp]
            # Re-check everything only when the leader or its history changed, else the new acks.
            key = (id(rep), rep.epoch, rep.log.truncations)
            seen_key, seen = self.checked.get(tp, (None, 0))
            start = seen if seen_key == key else 0
            self.checked[tp] = (key, len(acked))
            for offset, record in acked[start:]:
                got = have.get(offset)
                if got is None or got[1] != record:
                    self.fail(
                        f"acknowledged acks=all record {record} at {tp} offset {offset} is {got} on "
                        f"leader {self.coord.states[tp].leader} (epoch {rep.epoch})"
                    )

    def _leader(self, tp: TP) -> Replica | None:
        st = self.coord.states[tp]
        node = self.nodes.get(st.leader)
        if node is None or not self._running(st.leader) or tp not in node.replicas:
            return None
        rep = node.replicas[tp]
        return rep if rep.is_leader and rep.epoch == st.leader_epoch else None

    def _settled(self) -> bool:
        return all(
            self._leader(tp) is not None and self.coord.states[tp].leader in self.coord.registered
            for tp in self._partitions()
        )

    def _leadership(self) -> str:
        return ", ".join(f"{t}-{p}: {self.coord.states[(t, p)]}" for t, p in self._partitions())


def run_seed(seed: int, *, liveness_budget: float = 4.0) -> ControllerCluster:
    cluster = ControllerCluster(seed)
    cluster.run(liveness_budget)
    return cluster
