"""A cluster of coord.zab peers under the simulator: shells, workload, fault schedule.

`ZabCluster` is the shell a real server would be, made of simulated parts: it carries
out each peer's actions on a `SimDisk` and the `Network`, applies committed txns to a
trivial state machine (the list of applied txns, which is also its snapshot), and runs
a random client workload. `run_seed(seed)` draws everything from the seed: ensemble
size, message faults, crashes with loss of unsynced writes, partitions; then heals and
demands convergence within a bounded virtual time. Any invariant or liveness failure
becomes a `SimFailureError` naming the seed. It must never use real time or global
randomness, so a seed always replays the same run.
"""

from __future__ import annotations

import random
import traceback
from dataclasses import dataclass, field

import msgpack

from coord.zab import NotLeaderError, Peer, PersistentState, Role, Snapshot, ZabConfig
from coord.zab import actions as act
from coord.zab.messages import SnapChunk, decode, encode
from storage.diskio import FaultPlan as DiskFaults
from tests.sim.clock import Scheduler
from tests.sim.disk import SimDisk
from tests.sim.network import Network
from tests.sim.seeds import SimFailureError
from tests.sim.zab_checks import InvariantViolationError, ZabChecker

# Chunks of 256 bytes (a dozen of the simulator's txns, as a real MiB holds many real
# ones): a SNAP crosses in many chunks, a long diff in many batches.
CONFIG = ZabConfig(tick=0.1, init_limit=10, sync_limit=5, election_retry=2, chunk_bytes=256)
COMPACT_EVERY = 25  # applied txns between snapshots (makes SNAP syncs happen)


def replay_command(seed: int) -> str:
    return f"python -m tests.sim.soak --seed {seed} --trace"


@dataclass
class SimNode:
    sid: int
    disk: SimDisk = field(default_factory=SimDisk)
    peer: Peer | None = None
    applied: list[tuple[int, bytes]] = field(default_factory=list)
    incarnation: int = 0
    fsync_busy: bool = False
    client_pending: set[bytes] = field(default_factory=set)
    staging: bytearray = field(default_factory=bytearray)  # a SNAP being received
    chunks_staged: int = 0


class ZabCluster:
    def __init__(self, seed: int, size: int, config: ZabConfig = CONFIG) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.config = config
        self.sched = Scheduler()
        self.net = Network(self.sched, random.Random(self.rng.random()), self._deliver)
        self.checker = ZabChecker()
        self.members = frozenset(range(1, size + 1))
        self.disk_faults = DiskFaults()  # none until a test adds some; matched on "s<sid>/log"
        self.nodes = {sid: SimNode(sid, SimDisk(f"s{sid}/log", self.disk_faults)) for sid in self.members}
        self.trace: list[str] = []
        self.writes = 0
        self.acked_after_heal = 0
        self.healed_at: float | None = None
        for sid in sorted(self.members):
            self.start(sid)
            phase = self.rng.uniform(0, config.tick)
            self.sched.every(config.tick, lambda sid=sid: self._tick(sid), start=phase)

    # ----- node lifecycle ----------------------------------------------------------
    def start(self, sid: int) -> None:
        node = self.nodes[sid]
        accepted, current = node.disk.meta.get("epochs", (0, 0))
        snap_zxid, snap_data = node.disk.meta.get("snapshot", (0, msgpack.packb([])))
        node.applied = [(z, d) for z, d in msgpack.unpackb(snap_data)]
        node.staging = bytearray()
        self.checker.on_restore(sid, node.applied)
        state = PersistentState(accepted, current, snap_zxid, node.disk.records())
        node.peer = Peer(sid, self.members, self.config, state, lambda: self._snapshot(node), self.sched.now)
        self.net.down.discard(sid)
        self.log(f"start {sid} epochs={accepted}/{current} last={node.peer.last_zxid:#x}")
        self._drain(node)

    def pause(self, sid: int, seconds: float) -> None:
        """SIGSTOP for `seconds`: no ticks, no fsync completions seen, messages held
        until it resumes (then delivered in a burst); state and disk are kept."""
        node = self.nodes[sid]
        if node.peer is None or self.paused(sid):
            return
        self.net.pause(sid)
        incarnation = node.incarnation
        self.log(f"pause {sid} for {seconds:.2f}s")
        self.sched.after(seconds, lambda: self.resume(node, incarnation))

    def paused(self, sid: int) -> bool:
        return sid in self.net.held

    def resume(self, node: SimNode, incarnation: int) -> None:
        if node.incarnation == incarnation and node.peer is not None and self.paused(node.sid):
            self.log(f"resume {node.sid}")
            self.net.resume(node.sid)

    def crash(self, sid: int) -> None:
        node = self.nodes[sid]
        if node.peer is None:
            return
        node.peer = None
        node.incarnation += 1
        node.fsync_busy = False
        node.client_pending.clear()
        node.disk.crash(self.rng)
        self.net.held.pop(sid, None)
        self.net.down.add(sid)
        self.log(f"crash {sid}")

    def _fail_stop(self, node: SimNode, exc: OSError) -> None:
        """As the real shell (coord.zab.node): a failed log write or fsync stops the
        member before it acknowledges anything after it; a restart reads its disk."""
        self.log(f"{node.sid} storage failed ({exc}): stops")
        self.crash(node.sid)

    @staticmethod
    def _snapshot(node: SimNode) -> Snapshot:
        zxid = node.applied[-1][0] if node.applied else node.disk.meta.get("snapshot", (0,))[0]
        return Snapshot(zxid, msgpack.packb(node.applied))

    def live(self) -> list[SimNode]:
        return [n for n in self.nodes.values() if n.peer is not None]

    def log(self, line: str) -> None:
        self.trace.append(f"{self.sched.now:9.3f} {line}")

    # ----- driving peers -----------------------------------------------------------
    def _tick(self, sid: int) -> None:
        node = self.nodes[sid]
        if node.peer is not None and not self.paused(sid):
            node.peer.tick(self.sched.now)
            self._drain(node)

    def _deliver(self, dst: int, src: int, payload: bytes) -> None:
        node = self.nodes[dst]
        if node.peer is not None:
            node.peer.receive(src, decode(payload), self.sched.now)
            self._drain(node)

    def _drain(self, node: SimNode) -> None:
        while node.peer is not None:
            actions = node.peer.ready()
            if not actions:
                return
            for action in actions:
                if node.peer is None:  # it stopped midway (a failed disk): the rest never happens
                    return
                self._do(node, action)

    def _do(self, node: SimNode, a: act.Action) -> None:
        disk = node.disk
        if isinstance(a, act.Send):
            self.net.send(node.sid, a.to, encode(a.msg))
        elif isinstance(a, act.AppendLog):
            try:
                disk.append(list(a.entries))
            except OSError as exc:
                self._fail_stop(node, exc)
                return
            self._schedule_fsync(node)
        elif isinstance(a, act.Apply):
            self._apply(node, a.zxid, a.data)
        elif isinstance(a, act.PersistEpochs):
            disk.meta["epochs"] = (a.accepted_epoch, a.current_epoch)
        elif isinstance(a, act.TruncateLog):
            disk.truncate(lambda rec, z=a.zxid: rec[0] <= z)
            self.log(f"{node.sid} TRUNC to {a.zxid:#x}")
        elif isinstance(a, act.SendSnapshotChunk):
            chunk = SnapChunk(a.epoch, a.stream, a.seq, a.offset, a.image.read(a.offset, a.size))
            self.net.send(node.sid, a.to, encode(chunk))
        elif isinstance(a, act.StageSnapshot):
            if a.offset == 0:
                node.staging = bytearray()
            if a.offset != len(node.staging):
                raise InvariantViolationError(f"{node.sid} staged a chunk at {a.offset}, has {len(node.staging)}")
            node.staging += a.data
            node.chunks_staged += 1
        elif isinstance(a, act.InstallSnapshot):
            if len(node.staging) != a.size:
                raise InvariantViolationError(f"{node.sid} installs {a.size} bytes, staged {len(node.staging)}")
            data, node.staging = bytes(node.staging), bytearray()
            disk.meta["snapshot"] = (a.zxid, data)
            disk.truncate(lambda rec: False)
            node.applied = [(z, d) for z, d in msgpack.unpackb(data)]
            self.checker.on_restore(node.sid, node.applied)
            self.log(f"{node.sid} SNAP at {a.zxid:#x}")
        elif isinstance(a, act.Serving):
            self._on_serving(node, a.on)
        elif isinstance(a, act.RoleChanged):
            self.log(f"{node.sid} -> {a.role} epoch={a.epoch} leader={a.leader}")
        elif isinstance(a, act.ForwardedRequest):
            self._propose(node, a.payload)

    def _on_serving(self, node: SimNode, on: bool) -> None:
        assert node.peer is not None
        self.log(f"{node.sid} serving={on} as {node.peer.state.value} epoch={node.peer.current_epoch}")
        if on and node.peer.state == Role.LEADING:
            self.checker.on_serving_leader(node.sid, node.peer.current_epoch)
        if not on:
            node.client_pending.clear()  # clients are disconnected: outcome unknown to them

    def _apply(self, node: SimNode, zxid: int, data: bytes) -> None:
        self.checker.on_apply(node.sid, len(node.applied), zxid, data)
        node.applied.append((zxid, data))
        if data in node.client_pending:
            node.client_pending.discard(data)
            self.checker.on_client_ack(data)
            if self.healed_at is not None:
                self.acked_after_heal += 1
        if len(node.applied) % COMPACT_EVERY == 0 and node.peer is not None:
            node.disk.meta["snapshot"] = (zxid, msgpack.packb(node.applied))
            node.disk.drop_prefix(lambda rec: rec[0] <= zxid)
            node.peer.compact(zxid)

    def _schedule_fsync(self, node: SimNode) -> None:
        if node.fsync_busy:
            return
        node.fsync_busy = True
        incarnation = node.incarnation
        self.sched.after(self.rng.uniform(0.0005, 0.02), lambda: self._fsynced(node, incarnation))

    def _fsynced(self, node: SimNode, incarnation: int) -> None:
        if node.incarnation != incarnation or node.peer is None:
            return
        if self.paused(node.sid):  # the completion is seen after resuming
            self.sched.after(0.01, lambda: self._fsynced(node, incarnation))
            return
        node.fsync_busy = False
        try:
            node.disk.fsync()
        except OSError as exc:
            self._fail_stop(node, exc)
            return
        records = node.disk.durable
        upto = records[-1][0] if records else node.disk.meta.get("snapshot", (0,))[0]
        node.peer.persisted(upto, self.sched.now)
        self._drain(node)

    # ----- clients -----------------------------------------------------------------
    def client_write(self) -> None:
        live = [n for n in self.live() if not self.paused(n.sid)]
        if not live:
            return
        node = self.rng.choice(live)
        self.writes += 1
        payload = b"w%d" % self.writes
        assert node.peer is not None
        if node.peer.state == Role.LEADING:
            accepted = self._propose(node, payload)
        else:
            try:
                node.peer.forward(payload, self.sched.now)
                accepted = True
            except NotLeaderError:
                accepted = False
        if accepted:
            node.client_pending.add(payload)
            self._drain(node)

    def _propose(self, node: SimNode, payload: bytes) -> bool:
        """Propose as the leader's shell does: stamp with next_zxid, then propose."""
        assert node.peer is not None
        try:
            promised = node.peer.next_zxid()
            zxid = node.peer.propose(payload, self.sched.now)
        except NotLeaderError:
            return False  # not serving (yet, or any more): the client tries elsewhere
        if zxid != promised:
            raise InvariantViolationError(f"server {node.sid} proposed {zxid:#x}, promised {promised:#x}")
        return True

    # ----- convergence -------------------------------------------------------------
    def converged(self) -> bool:
        live = self.live()
        return (
            len(live) == len(self.nodes)
            and self.acked_after_heal > 0
            and all(n.peer is not None and n.peer.serving for n in live)
            and all(len(n.applied) == len(self.checker.history) for n in live)
        )


@dataclass
class FaultPlan:
    size: int
    fault_time: float
    drop: float
    duplicate: float
    max_delay: float
    mean_gap: float


def plan_for(rng: random.Random) -> FaultPlan:
    return FaultPlan(
        size=rng.choice([1, 2, 3, 3, 3, 4, 5, 5, 7]),
        fault_time=rng.uniform(4.0, 12.0),
        drop=rng.choice([0.0, 0.01, 0.05, 0.15]),
        duplicate=rng.choice([0.0, 0.02, 0.1]),
        max_delay=rng.choice([0.002, 0.01, 0.05]),
        mean_gap=rng.uniform(0.2, 1.0),
    )


def _inject_fault(cluster: ZabCluster, rng: random.Random) -> None:
    nodes = sorted(cluster.members)
    kind = rng.choice(["crash", "restart", "restart", "partition", "heal", "pause", "power"])
    if kind == "crash":
        cluster.crash(rng.choice(nodes))
    elif kind == "power":  # every server loses its unsynced writes at the same instant
        for sid in nodes:
            cluster.crash(sid)
    elif kind == "pause":
        cluster.pause(rng.choice(nodes), rng.uniform(0.2, 2.0))
    elif kind == "restart":
        down = [n.sid for n in cluster.nodes.values() if n.peer is None]
        if down:
            cluster.start(rng.choice(down))
    elif kind == "partition":
        shuffled = rng.sample(nodes, len(nodes))
        cut = rng.randint(1, max(1, len(nodes) - 1))
        cluster.net.partition([shuffled[:cut], shuffled[cut:]])
        cluster.log(f"partition {shuffled[:cut]} | {shuffled[cut:]}")
    else:
        cluster.net.heal()
        cluster.log("heal partition")


def run_seed(seed: int, liveness_budget: float = 30.0, trace: bool = False) -> ZabCluster:
    """One complete simulated run; raises SimFailureError (with the seed) if anything breaks."""
    rng = random.Random(seed)
    plan = plan_for(rng)
    cluster = ZabCluster(seed, plan.size)
    net = cluster.net
    net.faults.drop, net.faults.duplicate, net.faults.max_delay = plan.drop, plan.duplicate, plan.max_delay
    cluster.sched.every(0.05, cluster.client_write, start=0.5)
    t = rng.expovariate(1 / plan.mean_gap)
    while t < plan.fault_time:
        cluster.sched.at(t, lambda: _inject_fault(cluster, rng))
        t += rng.expovariate(1 / plan.mean_gap)
    try:
        cluster.sched.run_until(plan.fault_time)
        _heal_all(cluster)
        deadline = plan.fault_time + liveness_budget
        if not cluster.sched.run_until(deadline, stop=cluster.converged):
            raise InvariantViolationError(
                f"no convergence within {liveness_budget}s of healing: "
                + ", ".join(
                    f"{n.sid}:{n.peer.state.value if n.peer else 'down'}/{len(n.applied)}"
                    for n in cluster.nodes.values()
                )
                + f" of {len(cluster.checker.history)} txns"
            )
        cluster.checker.check_converged({n.sid: n.applied for n in cluster.live()})
    except Exception as exc:  # every failure must name its seed
        detail = "".join(traceback.format_exception_only(exc)).strip()
        if trace or not isinstance(exc, AssertionError):
            detail += "\n" + "".join(traceback.format_exception(exc)[-4:])
        tail = "\n".join(cluster.trace[-40:]) if trace else ""
        raise SimFailureError(seed, cluster.sched.now, f"{plan}: {detail}\n{tail}", replay_command(seed)) from exc
    return cluster


def _heal_all(cluster: ZabCluster) -> None:
    cluster.net.heal()
    cluster.net.faults.drop = cluster.net.faults.duplicate = 0.0
    for node in cluster.nodes.values():
        if node.peer is None:
            cluster.start(node.sid)
        cluster.resume(node, node.incarnation)
    cluster.healed_at = cluster.sched.now
    cluster.log("heal all")
