"""Seeded whole-partition simulation of the replication core, with its invariants.

RF replicas of one partition run the real `Replica` core over `tests/sim`'s virtual clock
and network (delay, drop, duplicate, reorder, partitions), next to a model of the
coordination store (the partition-state znode with its version, broker sessions kept by
heartbeats) and a model controller (elects from the ISR only, bumps the epoch, never
empties the ISR, can fail over). A producer sends acks=all and acks=1 writes to the
leader it reads from the store; a consumer reads below the leader's HW. Faults come from
the seed: crashes (clean, or losing the unflushed tail of the log), network partitions,
controller failover. Replicas are driven as a broker drives them: every `SendFetch` /
`SendEpochQuery` action the core returns is sent, nothing else; a leader long-polls a
follower's fetch that finds nothing new, as the Fetch handler does (it re-reads when its
log end or high watermark moves, and answers when there are records or its wait ran out).
After every event the invariants are checked:
- no acknowledged acks=all record is missing from (or different in) the current leader;
- records a consumer saw are never missing from (or different in) the current leader;
- any two replicas agree on every offset below both their high watermarks;
- a leader's high watermark never goes backwards.
A crash may lose unflushed data only while every other replica is alive and in the ISR:
that is "at most RF-1 failed replicas" (losing data from the last ISR member is Kafka's
known "last replica standing" hole, section 4.5, not a bug of this core).
Replay one seed: python -m tests.broker_replication.sim SEED
It must never read the real clock or draw randomness from anything but the seed.
"""

from __future__ import annotations

import random
import sys
import weakref
from dataclasses import dataclass, field

from broker.replication import ErrorCode, Replica
from broker.replication.messages import (
    ACKS_ALL,
    BecomeFollower,
    BecomeLeader,
    CompleteProduce,
    FetchRequest,
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

STORE = 100  # the coordination store (znodes, sessions); the controller lives beside it
CLIENT = 200  # producer
SESSION_TIMEOUT = 0.4
TICK = 0.05
FETCH_WAIT = 0.05  # a leader holds a follower's fetch that finds nothing new this long at most


@dataclass
class PartitionState:
    """The /brokers/topics/t/partitions/0/state znode and its version."""

    leader: int
    epoch: int
    isr: frozenset[int]
    version: int = 0


@dataclass
class Node:
    replica: Replica
    log: MemoryLog
    hw_checkpoint: int = 0
    up: bool = True
    incarnation: int = 0
    lossy: bool = False


@dataclass
class Checks:
    acked: dict[int, object] = field(default_factory=dict)
    seen: dict[int, object] = field(default_factory=dict)
    leader_hw: weakref.WeakKeyDictionary[object, int] = field(
        default_factory=weakref.WeakKeyDictionary
    )  # LeaderState -> last HW


class ReplicationSim:
    def __init__(self, seed: int, *, rf: int = 3, min_isr: int = 2, seconds: float = 6.0) -> None:
        self.seed, self.rf, self.seconds = seed, rf, seconds
        self.rng = random.Random(seed)
        self.sched = Scheduler()
        self.net = Network(self.sched, self.rng, self._deliver)
        self.net.faults.drop, self.net.faults.duplicate = 0.03, 0.02
        self.net.faults.max_delay = 0.02
        self.min_isr = min_isr
        logs = {i: MemoryLog() for i in range(rf)}
        self.nodes = {i: Node(self._replica(i, log, 0), log) for i, log in logs.items()}
        self.state = PartitionState(0, 1, frozenset(range(rf)))
        self.last_heard = dict.fromkeys(range(rf), 0.0)
        self.incarnation_seen = dict.fromkeys(range(rf), 0)
        self.restarted: set[int] = set()
        self.controller_up_at = 0.0
        self.checks = Checks()
        self.next_record = 0
        self.inflight: dict[int, tuple[object, int]] = {}
        self.consumer_pos = 0
        self.parked: dict[int, list[tuple[FetchRequest, float]]] = {}  # leader -> held follower fetches

    def _replica(self, i: int, log: MemoryLog, hw: int, incarnation: int = 0) -> Replica:
        return Replica(
            i,
            log,
            broker_epoch=incarnation,
            high_watermark=hw,
            min_insync_replicas=self.min_isr,
            replica_lag_time_max_ms=300,
            fetch_retry_ms=100,
        )

    def fail(self, what: str) -> None:
        raise SimFailureError(self.seed, self.sched.now, what, f"python -m tests.broker_replication.sim {self.seed}")

    # ---- the run --------------------------------------------------------------------

    def run(self) -> None:
        s = self.sched
        s.every(TICK, self._tick_all)
        s.every(0.1, self._controller_pass, start=0.0)
        s.every(0.03, self._produce, start=0.05)
        s.every(0.1, self._consume, start=0.1)
        s.after(self.rng.uniform(0.2, 0.6), self._fault)
        s.run_until(self.seconds, after_step=self._check)
        self.net.heal()
        self.controller_up_at = 0.0
        for i, n in self.nodes.items():
            if not n.up:
                self._restart(i)
        s.run_until(self.seconds + 3.0, after_step=self._check)
        self._check_converged()

    def _now_ms(self) -> int:
        return int(self.sched.now * 1000)

    def _step(self, i: int, event: object) -> None:
        node = self.nodes[i]
        if not node.up:
            return
        before = (node.log.log_end_offset, node.replica.high_watermark)
        if isinstance(event, FetchRequest) and event.replica_id >= 0:
            self._serve_fetch(i, event, self.sched.now + FETCH_WAIT)
        else:
            for action in node.replica.step(event, self._now_ms()):
                self._act(i, action)
        if (node.log.log_end_offset, node.replica.high_watermark) != before:
            self._wake(i)

    def _serve_fetch(self, i: int, req: FetchRequest, deadline: float) -> None:
        """A follower's fetch at replica i: answered now if it finds records or is refused,
        else held until i's log moves or the deadline (the Fetch handler's long poll)."""
        actions = self.nodes[i].replica.step(req, self._now_ms())
        reply = next((a for a in actions if isinstance(a, ReplyFetch)), None)
        hold = (
            reply is not None
            and not reply.response.batches
            and reply.response.error == ErrorCode.NONE
            and self.sched.now < deadline
        )
        for action in actions:
            if not (hold and action is reply):
                self._act(i, action)
        if hold:
            entry = (req, deadline)
            self.parked.setdefault(i, []).append(entry)
            self.sched.at(deadline, lambda: self._expire(i, entry))

    def _wake(self, i: int) -> None:
        """Replica i's log end or high watermark moved: held fetches read again."""
        node = self.nodes[i]
        for _ in range(10):  # a re-read can move the high watermark once more; it settles
            before = (node.log.log_end_offset, node.replica.high_watermark)
            held, self.parked[i] = self.parked.get(i, []), []
            for req, deadline in held:
                self._serve_fetch(i, req, deadline)
            if (node.log.log_end_offset, node.replica.high_watermark) == before:
                return

    def _expire(self, i: int, entry: tuple[FetchRequest, float]) -> None:
        held = self.parked.get(i, [])
        if entry in held and self.nodes[i].up:
            held.remove(entry)
            self._serve_fetch(i, *entry)

    def _act(self, i: int, action: object) -> None:
        match action:
            case SendFetch(leader, req):
                self.net.send(i, leader, req)
            case SendEpochQuery(leader, q):
                self.net.send(i, leader, q)
            case ReplyFetch(to, resp):
                self.net.send(i, to, resp)
            case ReplyEpochQuery(to, ans):
                self.net.send(i, to, ans)
            case ProposeIsr():
                self.net.send(i, STORE, action)
            case CompleteProduce():
                self.net.send(i, CLIENT, action)

    def _deliver(self, dst: int, src: int, payload: object) -> None:
        if dst == STORE:
            self._store_receive(src, payload)
        elif dst == CLIENT:
            self._client_receive(payload)
        else:
            self._step(dst, payload)

    def _tick_all(self) -> None:
        for i, node in self.nodes.items():
            if node.up:
                self.net.send(i, STORE, ("heartbeat", node.incarnation, node.lossy))
                self._step(i, Tick())
                if self.rng.random() < 0.3:
                    node.log.flush()
                    node.hw_checkpoint = node.replica.high_watermark

    # ---- coordination store and controller ----------------------------------------

    def _store_receive(self, src: int, payload: object) -> None:
        if isinstance(payload, tuple):  # ("heartbeat", incarnation, lost unflushed data)
            _, incarnation, lossy = payload
            if incarnation != self.incarnation_seen.get(src):
                # A restarted broker cannot resume leading its old epoch, and one that lost
                # data in the crash leaves the ISR (KIP-380's broker epoch); a clean restart
                # within the session keeps a follower in the ISR, as pre-KIP-380 Kafka did.
                self.incarnation_seen[src] = incarnation
                if lossy or src == self.state.leader:
                    self.restarted.add(src)
            self.last_heard[src] = self.sched.now
            return
        assert isinstance(payload, ProposeIsr)
        st = self.state
        current = payload.leader_epoch == st.epoch and st.leader == src
        # A retried or duplicated write whose data is already stored succeeded earlier: say so,
        # as Kafka's leader does after a BadVersion when the znode already holds its ISR.
        ok = current and (payload.expected_version == st.version or payload.isr == st.isr)
        if ok and payload.isr != st.isr:
            st.isr, st.version = payload.isr, st.version + 1
        self.net.send(STORE, src, IsrChangeResult(payload, ok, st.version))

    def _alive(self, i: int) -> bool:
        return self.sched.now - self.last_heard[i] <= SESSION_TIMEOUT

    def _controller_pass(self) -> None:
        """React to expired and returning sessions, then (re)send LeaderAndIsr to everyone."""
        if self.sched.now < self.controller_up_at:
            return
        st = self.state
        dead = {i for i in st.isr if not self._alive(i) or i in self.restarted}
        self.restarted.clear()
        if st.leader >= 0 and dead:
            isr = st.isr - dead or st.isr  # the ISR is never emptied
            leader = st.leader if st.leader not in dead else next((i for i in sorted(isr) if self._alive(i)), -1)
            self.state = PartitionState(leader, st.epoch + 1, isr, st.version + 1)
        elif st.leader < 0:
            back = next((i for i in sorted(st.isr) if self._alive(i)), None)
            if back is not None:
                self.state = PartitionState(back, st.epoch + 1, st.isr, st.version + 1)
        st = self.state
        for i in self.nodes:
            if not self._alive(i) or st.leader < 0:
                continue
            seen = self.incarnation_seen[i]
            order = (
                BecomeLeader(st.epoch, st.isr, tuple(self.nodes), st.version, seen)
                if i == st.leader
                else BecomeFollower(st.leader, st.epoch, seen)
            )
            self.net.send(STORE, i, order)

    # ---- clients --------------------------------------------------------------------

    def _produce(self) -> None:
        if self.state.leader < 0 or self.sched.now > self.seconds:
            return
        self.next_record += 1
        acks = ACKS_ALL if self.rng.random() < 0.7 else 1
        record = f"r{self.next_record}"
        self.inflight[self.next_record] = (record, acks)
        self.net.send(CLIENT, self.state.leader, Produce(self.next_record, (record,), acks, timeout_ms=1000))

    def _client_receive(self, done: CompleteProduce) -> None:
        record, acks = self.inflight.pop(done.request_id, (None, 0))
        if record is not None and acks == ACKS_ALL and done.error == ErrorCode.NONE:
            self.checks.acked[done.base_offset] = record

    def _leader(self) -> Replica | None:
        st = self.state
        node = self.nodes.get(st.leader)
        if node is None or not node.up or not node.replica.is_leader or node.replica.epoch != st.epoch:
            return None
        return node.replica

    def _consume(self) -> None:
        leader = self._leader()
        if leader is None:
            return
        for action in leader.step(FetchRequest(-1, leader.epoch, self.consumer_pos), self._now_ms()):
            if isinstance(action, ReplyFetch):
                for b in action.response.batches:
                    for k, r in enumerate(b.records):
                        self.checks.seen[b.base_offset + k] = r
                    self.consumer_pos = max(self.consumer_pos, b.last_offset + 1)

    # ---- faults ---------------------------------------------------------------------

    def _fault(self) -> None:
        if self.sched.now > self.seconds:
            return
        kind = self.rng.choice(["crash", "crash", "bounce", "partition", "controller", "none"])
        down = [i for i, n in self.nodes.items() if not n.up]
        if kind == "crash" and len(down) < self.rf - 1:
            victim = self.rng.choice([i for i in self.nodes if self.nodes[i].up])
            others_safe = all(self.nodes[j].up and j in self.state.isr for j in self.nodes if j != victim)
            self._crash(victim, lossy=others_safe and self.rng.random() < 0.5)
            self.sched.after(self.rng.uniform(0.1, 1.5), lambda: self._restart(victim))
        elif kind == "bounce" and not down:
            self._bounce()
        elif kind == "partition":
            victim = self.rng.randrange(self.rf)
            rest = [i for i in self.nodes if i != victim] + [STORE, CLIENT]
            self.net.partition([[victim], rest])
            self.sched.after(self.rng.uniform(0.2, 1.5), self.net.heal)
        elif kind == "controller":
            self.controller_up_at = self.sched.now + self.rng.uniform(0.2, 1.0)
        self.sched.after(self.rng.uniform(0.2, 0.8), self._fault)

    def _bounce(self) -> None:
        """A quick clean restart of a follower, then the leader dies soon after (rolling restart)."""
        leader = self.state.leader
        followers = [i for i in self.nodes if i != leader]
        if leader < 0:
            return
        victim = self.rng.choice(followers)
        self._crash(victim, lossy=False)
        back = self.rng.uniform(0.01, 0.1)
        self.sched.after(back, lambda: self._restart(victim))
        kill_at = back + self.rng.uniform(0.0, 0.05)
        self.sched.after(kill_at, lambda: self._crash(leader, lossy=False))
        self.sched.after(kill_at + self.rng.uniform(0.1, 1.0), lambda: self._restart(leader))

    def _crash(self, i: int, *, lossy: bool) -> None:
        node = self.nodes[i]
        node.up = False
        self.net.down.add(i)
        self.parked.pop(i, None)  # its connections, and the fetches they held, are gone
        for held in self.parked.values():
            held[:] = [entry for entry in held if entry[0].replica_id != i]
        node.lossy = lossy
        if not lossy:
            node.log.flush()
        node.log.crash()

    def _restart(self, i: int) -> None:
        node = self.nodes[i]
        if node.up:
            return
        node.up = True
        node.incarnation += 1
        self.net.down.discard(i)
        node.replica = self._replica(i, node.log, node.hw_checkpoint, node.incarnation)

    # ---- invariants -----------------------------------------------------------------

    def _check(self) -> None:
        for i, node in self.nodes.items():
            role = node.replica.role
            if node.up and node.replica.is_leader:
                last = self.checks.leader_hw.get(role, 0)
                if node.replica.high_watermark < last:
                    self.fail(f"leader {i} HW went back from {last} to {node.replica.high_watermark}")
                self.checks.leader_hw[role] = node.replica.high_watermark
        leader = self._leader()
        if leader is not None:
            have = leader.log.records()
            for what, table in (("acknowledged acks=all", self.checks.acked), ("consumed", self.checks.seen)):
                for offset, record in table.items():
                    got = have.get(offset)
                    if got is None or got[1] != record:
                        self.fail(
                            f"{what} record {record} at offset {offset} is {got} "
                            f"on leader {self.state.leader} (epoch {leader.epoch})"
                        )
        self._check_agreement()

    def _check_agreement(self) -> None:
        ups = [(i, n) for i, n in self.nodes.items() if n.up]
        for x, (i, a) in enumerate(ups):
            for j, b in ups[x + 1 :]:
                below = min(
                    a.replica.high_watermark, b.replica.high_watermark, a.log.log_end_offset, b.log.log_end_offset
                )
                ra, rb = a.log.records(), b.log.records()
                for offset in range(below):
                    if ra[offset] != rb[offset]:
                        self.fail(
                            f"replicas {i} and {j} disagree at offset {offset} below both "
                            f"HWs: {ra[offset]} vs {rb[offset]}"
                        )

    def _check_converged(self) -> None:
        """Healed and quiet: every replica holds the same log, and some writes were acknowledged."""
        logs = {i: n.log.records() for i, n in self.nodes.items()}
        if any(logs[i] != logs[0] for i in logs):
            self.fail(f"replicas did not converge: ends {[n.log.log_end_offset for n in self.nodes.values()]}")
        if not self.checks.acked:
            self.fail("no acks=all write was acknowledged in the whole run (no progress)")


def run_seed(seed: int) -> ReplicationSim:
    sim = ReplicationSim(seed)
    sim.run()
    return sim


if __name__ == "__main__":
    done = run_seed(int(sys.argv[1]))
    print(
        f"SEED={done.seed} ok: {len(done.checks.acked)} acks=all records acknowledged, "
        f"{len(done.checks.seen)} consumed, final epoch {done.state.epoch}"
    )
