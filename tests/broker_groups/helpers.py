"""Drive one GroupCoordinator by hand: requests numbered for you, replies collected,
appends acknowledged (or failed) on demand, the log kept for the loader."""

from __future__ import annotations

from dataclasses import dataclass, field

from broker.groups import GroupConfig, GroupCoordinator
from broker.groups.messages import (
    Action,
    DeleteGroup,
    ErrorCode,
    Event,
    Heartbeat,
    JoinGroup,
    JoinResult,
    LeaveGroup,
    MemberIdentity,
    OffsetCommit,
    OffsetFetch,
    Persist,
    PersistDone,
    Reply,
    Response,
    ScheduleTick,
    SyncGroup,
    Tick,
)
from broker.groups.records import OffsetAndMetadata, Record

PROTOCOLS = (("range", b"sub-t"),)
CONFIG = GroupConfig(min_session_timeout_ms=100)


@dataclass
class Driver:
    group: GroupCoordinator = field(default_factory=lambda: GroupCoordinator("g", config=CONFIG))
    now_ms: int = 0
    wall_offset_ms: int = 0  # wall clock minus the monotonic `now_ms`: a clock step moves it
    auto_persist: bool = True
    replies: dict[int, Response] = field(default_factory=dict)
    log: list[Record] = field(default_factory=list)
    pending: list[Persist] = field(default_factory=list)
    scheduled: int | None = None
    _next_request: int = 1

    def step(self, event: Event) -> list[Action]:
        actions = self.group.step(event, self.now_ms, wall_ms=self.now_ms + self.wall_offset_ms)
        for a in actions:
            if isinstance(a, Reply):
                assert a.request_id not in self.replies, f"request {a.request_id} answered twice"
                self.replies[a.request_id] = a.response
            elif isinstance(a, Persist):
                self.pending.append(a)
            elif isinstance(a, ScheduleTick):
                self.scheduled = a.at_ms
        if self.auto_persist:
            self.flush()
        return actions

    def flush(self, error: ErrorCode = ErrorCode.NONE) -> None:
        """Acknowledge every pending append in order (stored in the log only on success)."""
        while self.pending:
            p = self.pending.pop(0)
            if error is ErrorCode.NONE:
                self.log.extend(p.records)
            self.step(PersistDone(p.persist_id, error))

    def rid(self) -> int:
        self._next_request += 1
        return self._next_request

    def advance(self, ms: int) -> None:
        self.now_ms += ms
        self.step(Tick())

    # ---- requests, each returning its request id -------------------------------------

    def join(
        self,
        member_id: str = "",
        *,
        protocols=PROTOCOLS,
        instance: str | None = None,
        session: int = 1000,
        rebalance: int = 2000,
        required: bool = False,
        client: str = "c",
    ) -> int:
        r = self.rid()
        self.step(JoinGroup(r, member_id, "consumer", protocols, session, rebalance, instance, client, required))
        return r

    def sync(self, member_id: str, generation: int, assignments=(), instance: str | None = None) -> int:
        r = self.rid()
        self.step(SyncGroup(r, member_id, generation, tuple(assignments), instance))
        return r

    def heartbeat(self, member_id: str, generation: int, instance: str | None = None) -> ErrorCode:
        r = self.rid()
        self.step(Heartbeat(r, member_id, generation, instance))
        return self.replies[r].error

    def leave(self, *idents: MemberIdentity) -> int:
        r = self.rid()
        self.step(LeaveGroup(r, idents))
        return r

    def commit(self, member_id: str, generation: int, offsets: dict, instance: str | None = None) -> int:
        r = self.rid()
        self.step(
            OffsetCommit(
                r,
                member_id,
                generation,
                tuple((tp, OffsetAndMetadata(o) if isinstance(o, int) else o) for tp, o in offsets.items()),
                instance,
            )
        )
        return r

    def delete(self) -> int:
        r = self.rid()
        self.step(DeleteGroup(r))
        return r

    def fetch(self, partitions=None) -> dict:
        r = self.rid()
        self.step(OffsetFetch(r, partitions))
        return {tp: o.offset for tp, o in self.replies[r].offsets}

    def joined(self, r: int) -> JoinResult:
        result = self.replies[r]
        assert isinstance(result, JoinResult), result
        return result

    def stable_group(self, n: int, **kw) -> list[str]:
        """n members joined one after another (each join a rebalance the others rejoin) and
        synced; the first is the leader. Returns their ids."""
        ids: list[str] = []
        for _ in range(n):
            rs = [self.join(**kw)] + [self.join(m, **kw) for m in ids]
            ids = [self.joined(r).member_id for r in rs[1:]] + [self.joined(rs[0]).member_id]
            ids = sorted(set(ids), key=lambda m: list(self.group.members).index(m))
        gen = self.group.generation_id
        leader = self.group.leader_id
        self.sync(leader, gen, [(m, m.encode()) for m in ids])
        for m in ids:
            if m != leader:
                self.sync(m, gen)
        return ids
