"""Seeded simulation of one group: consumers join, sync, heartbeat, commit, leave, crash,
restart (some static), and the coordinator fails over (rebuilt from its records).

Consumers run a small client loop over the real `GroupCoordinator` with a virtual clock
and random request delays; the leader assigns a 6-partition topic with range. After
every step, while the group is Stable:
- every member has an assignment, and the assignments are the leader's for exactly
  the generation's members;
- no partition is owned by two members, and every partition is owned.
Replay one seed: python -m tests.broker_groups.sim SEED
It must never read the real clock or draw randomness from anything but the seed.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass

import msgpack

from broker.groups import GroupConfig, GroupCoordinator, GroupState, load_groups
from broker.groups.messages import (
    ErrorCode,
    Heartbeat,
    HeartbeatResult,
    JoinGroup,
    JoinResult,
    LeaveGroup,
    MemberIdentity,
    OffsetCommit,
    Persist,
    PersistDone,
    Reply,
    SyncGroup,
    SyncResult,
    Tick,
)
from broker.groups.records import OffsetAndMetadata, Record
from client.assignors import range_assign
from tests.sim.clock import Scheduler
from tests.sim.seeds import SimFailureError

PARTITIONS = 6
CONFIG = GroupConfig(min_session_timeout_ms=100)


@dataclass
class Client:
    name: str
    instance: str | None
    member_id: str = ""
    generation: int = -1
    up: bool = True
    phase: str = "idle"  # idle | joining | syncing | stable


class GroupSim:
    def __init__(self, seed: int, seconds: float = 20.0) -> None:
        self.seed, self.seconds = seed, seconds
        self.rng = random.Random(seed)
        self.sched = Scheduler()
        self.epoch = 0
        self.group = GroupCoordinator("g", coordinator_epoch=0, config=CONFIG)
        self.log: list[Record] = []
        self.waiting: dict[int, tuple[Client, str]] = {}
        self.next_request = 0
        self.clients = [Client(f"c{i}", f"static-{i}" if i % 2 else None) for i in range(4)]

    def fail(self, what: str) -> None:
        raise SimFailureError(self.seed, self.sched.now, what, f"python -m tests.broker_groups.sim {self.seed}")

    def now_ms(self) -> int:
        return int(self.sched.now * 1000)

    def run(self) -> GroupSim:
        self.sched.every(0.05, lambda: self.step(Tick()))
        for c in self.clients:
            self.sched.after(self.rng.uniform(0, 0.5), lambda c=c: self.start(c))
            self.sched.every(0.1, lambda c=c: self.heartbeat(c), start=self.rng.uniform(0, 0.1))
        self.sched.every(0.7, self.chaos, start=1.0)
        self.sched.run_until(self.seconds, after_step=self.check)
        return self

    # ---- the coordinator side -------------------------------------------------------

    def step(self, event: object) -> None:
        for a in self.group.step(event, self.now_ms()):
            if isinstance(a, Reply):
                client, kind = self.waiting.pop(a.request_id, (None, ""))
                if client is not None and client.up:
                    delay = self.rng.uniform(0.001, 0.02)
                    self.sched.after(delay, lambda c=client, k=kind, r=a.response: self.answer(c, k, r))
            elif isinstance(a, Persist):
                self.sched.after(self.rng.uniform(0.001, 0.01), lambda p=a, g=self.group: self.persisted(p, g))

    def persisted(self, p: Persist, group: GroupCoordinator) -> None:
        if group is not self.group:
            return  # the coordinator failed over: the write was lost with it
        self.log.extend(p.records)
        self.step(PersistDone(p.persist_id))

    def failover(self) -> None:
        self.epoch += 1
        self.waiting.clear()
        loaded = load_groups(self.log, now_ms=self.now_ms(), coordinator_epoch=self.epoch, config=CONFIG)
        self.group = loaded.get("g") or GroupCoordinator(
            "g", coordinator_epoch=self.epoch, config=CONFIG, now_ms=self.now_ms()
        )
        for c in self.clients:
            if c.up and c.phase in ("joining", "syncing"):
                self.sched.after(0.05, lambda c=c: self.start(c))  # their request died with the broker

    # ---- the client side ------------------------------------------------------------

    def send(self, client: Client, kind: str, event_for) -> None:
        self.next_request += 1
        rid = self.next_request
        self.waiting[rid] = (client, kind)
        self.sched.after(self.rng.uniform(0.001, 0.02), lambda: self.step(event_for(rid)))

    def start(self, c: Client) -> None:
        if not c.up:
            return
        c.phase = "joining"
        mid, inst = c.member_id, c.instance
        self.send(c, "join", lambda r: JoinGroup(r, mid, "consumer", (("range", b"t"),), 400, 600, inst, c.name))

    def answer(self, c: Client, kind: str, resp: object) -> None:
        if kind == "join" and isinstance(resp, JoinResult):
            if resp.error is not ErrorCode.NONE:
                c.member_id = resp.member_id if resp.error is ErrorCode.MEMBER_ID_REQUIRED else ""
                self.sched.after(0.02, lambda: self.start(c))
                return
            c.member_id, c.generation, c.phase = resp.member_id, resp.generation_id, "syncing"
            assignments: tuple[tuple[str, bytes], ...] = ()
            if resp.members:
                plan = range_assign({m.member_id: ["t"] for m in resp.members}, {"t": PARTITIONS})
                assignments = tuple((m, msgpack.packb([p for _, p in tps])) for m, tps in plan.items())
            mid, gen, inst = c.member_id, c.generation, c.instance
            self.send(c, "sync", lambda r: SyncGroup(r, mid, gen, assignments, inst))
        elif kind == "sync" and isinstance(resp, SyncResult):
            if resp.error is ErrorCode.NONE:
                c.phase = "stable"
                mid, gen, inst = c.member_id, c.generation, c.instance
                offset = OffsetAndMetadata(self.now_ms())
                self.send(c, "commit", lambda r: OffsetCommit(r, mid, gen, ((("t", 0), offset),), inst))
            else:
                self.rejoin(c, resp.error)
        elif kind == "heartbeat" and isinstance(resp, HeartbeatResult) and resp.error is not ErrorCode.NONE:
            self.rejoin(c, resp.error)

    def rejoin(self, c: Client, error: ErrorCode) -> None:
        if c.phase in ("joining",):
            return
        if error in (ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.FENCED_INSTANCE_ID, ErrorCode.ILLEGAL_GENERATION):
            c.member_id = "" if error is not ErrorCode.ILLEGAL_GENERATION else c.member_id
        self.start(c)

    def heartbeat(self, c: Client) -> None:
        if c.up and c.phase == "stable":
            mid, gen, inst = c.member_id, c.generation, c.instance
            self.send(c, "heartbeat", lambda r: Heartbeat(r, mid, gen, inst))

    def chaos(self) -> None:
        c = self.rng.choice(self.clients)
        roll = self.rng.random()
        if roll < 0.3 and c.up:
            c.up, c.phase = False, "idle"  # kill -9
            self.sched.after(self.rng.uniform(0.1, 1.0), lambda: self.restart(c))
        elif roll < 0.5 and c.up and c.phase == "stable":
            mid, inst = c.member_id, c.instance
            c.phase, c.member_id = "idle", ""
            self.send(c, "leave", lambda r: LeaveGroup(r, (MemberIdentity(mid, inst),)))
            self.sched.after(0.3, lambda: self.start(c))
        elif roll < 0.6:
            self.failover()

    def restart(self, c: Client) -> None:
        c.up, c.generation, c.member_id = True, -1, ""  # a static one comes back under its instance id
        self.start(c)

    # ---- invariants -----------------------------------------------------------------

    def check(self) -> None:
        g = self.group
        if g.state is not GroupState.STABLE:
            return
        owned: dict[int, str] = {}
        for mid, m in g.members.items():
            if not m.assignment:
                self.fail(f"member {mid} of Stable generation {g.generation_id} has no assignment")
            for p in msgpack.unpackb(m.assignment):
                if p in owned:
                    self.fail(f"partition {p} owned by {owned[p]} and {mid} in generation {g.generation_id}")
                owned[p] = mid
        if sorted(owned) != list(range(PARTITIONS)):
            self.fail(f"Stable generation {g.generation_id} leaves partitions unowned: {sorted(owned)}")


def run_seed(seed: int) -> GroupSim:
    return GroupSim(seed).run()


if __name__ == "__main__":
    sim = run_seed(int(sys.argv[1]))
    print(
        f"seed {sim.seed}: generation {sim.group.generation_id}, state {sim.group.state.value}, {len(sim.log)} records"
    )
