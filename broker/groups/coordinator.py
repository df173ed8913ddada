"""`GroupCoordinator`: one consumer group's state machine (Kafka's classic group protocol).

Theory of operation. A group moves through five states:

    Empty --join--> PreparingRebalance --all joined / rebalance timeout--> CompletingRebalance
    CompletingRebalance --leader's assignment stored--> Stable
    Stable | CompletingRebalance --join with new metadata, leave, session expiry--> PreparingRebalance
    PreparingRebalance --nobody left when the join phase completes--> Empty
    Empty --every offset expired (offsets_retention_ms), or DeleteGroups--> Dead

A rebalance parks every member's JoinGroup until all known members have rejoined (or
the largest rebalance timeout passes: those who did not rejoin are removed), bumps the
generation, picks the assignor every member supports, and answers all of them at once;
the leader's answer carries every subscription. The leader then sends the assignment
in its SyncGroup; the coordinator writes it to `__consumer_offsets` and, once that write
is replicated, answers every parked SyncGroup with the member's share. Heartbeats keep
a session alive and tell a member to rejoin (REBALANCE_IN_PROGRESS) or that it is no
longer known (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION). A static member (group_instance_id)
that restarts with the same subscription takes over its old member id's place in a
Stable group without a rebalance; the old id is fenced (FENCED_INSTANCE_ID).

Offset commits are checked against the member and generation, written, and applied to
the committed table only once the write is replicated, so a fetch never shows an
offset a new coordinator could not load.

Contract, as in etcd's raft: `step(event, now_ms, wall_ms=...)` is the only entry; the
caller carries out the returned actions in order (replies, appends, one timer). Two
clocks come in: `now_ms` is monotonic and measures every timeout (member sessions,
rebalance and sync deadlines, the timer in `ScheduleTick`), so a step of the system clock
neither expires live members nor keeps dead ones; `wall_ms` stamps what users and the log
see (commit timestamps, the state timestamp) and ages offsets for retention, as Kafka
does. Without `wall_ms` both are `now_ms` (one virtual clock, as the simulators use). Everything that
changes group state lives in this file (h11's rule 1), which is why it runs past the
usual 500 lines; the loader restores a group only through `restore`. It must never
perform I/O or read the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from broker.groups.member import Member, common_protocols, select_protocol
from broker.groups.messages import (
    NO_MEMBER_ID,
    UNKNOWN_OFFSET,
    Action,
    DeleteGroup,
    DeleteGroupResult,
    DeleteOffsets,
    DeleteOffsetsResult,
    DescribeGroup,
    ErrorCode,
    Event,
    GroupDescription,
    GroupState,
    Heartbeat,
    HeartbeatResult,
    JoinGroup,
    JoinMember,
    JoinResult,
    LeaveGroup,
    LeaveResult,
    MemberDescription,
    MemberIdentity,
    OffsetCommit,
    OffsetCommitResult,
    OffsetFetch,
    OffsetFetchResult,
    Persist,
    PersistDone,
    Reply,
    Response,
    ScheduleTick,
    SyncGroup,
    SyncResult,
    Tick,
    TopicPartition,
)
from broker.groups.records import (
    GroupMetadataValue,
    MemberRecord,
    OffsetAndMetadata,
    Record,
    group_record,
    offset_record,
)
from client.consumer.group_protocol import decode_subscription

OnPersisted = Callable[[ErrorCode, int], list[Action]]


@dataclass(frozen=True)
class GroupConfig:
    """Broker-side group settings, Kafka's defaults except the initial delay (0 here: the
    shell sets group.initial.rebalance.delay.ms, tests want determinism without waiting)."""

    min_session_timeout_ms: int = 6_000
    max_session_timeout_ms: int = 1_800_000
    initial_rebalance_delay_ms: int = 0
    offsets_retention_ms: int = 7 * 24 * 3600 * 1000
    max_metadata_size: int = 4096


def append_error(error: ErrorCode) -> ErrorCode:
    """What a client is told when a write to `__consumer_offsets` failed (Kafka's mapping):
    it must find the coordinator again, or retry once the partition is writable."""
    if error in (ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.NOT_COORDINATOR):
        return ErrorCode.NOT_COORDINATOR
    return ErrorCode.COORDINATOR_NOT_AVAILABLE


class GroupCoordinator:
    """One group. `coordinator_epoch` (the leader epoch of the group's offsets partition)
    goes into every member id, so ids stay unique across coordinator failovers without
    the core drawing randomness."""

    def __init__(
        self,
        group_id: str,
        *,
        coordinator_epoch: int = 0,
        config: GroupConfig | None = None,
        now_ms: int = 0,
        wall_ms: int | None = None,
    ) -> None:
        self.group_id = group_id
        self.coordinator_epoch = coordinator_epoch
        self.config = config or GroupConfig()
        self.state = GroupState.EMPTY
        self._wall_offset = 0 if wall_ms is None else wall_ms - now_ms  # wall minus monotonic, as of the last step
        self.state_timestamp_ms = self._wall(now_ms)
        self.generation_id = 0
        self.protocol_type: str | None = None
        self.protocol_name: str | None = None
        self.leader_id: str | None = None
        self.members: dict[str, Member] = {}  # in join order: the first is the default leader
        self.static_members: dict[str, str] = {}  # group_instance_id -> member_id
        self.pending_members: dict[str, int] = {}  # MEMBER_ID_REQUIRED ids -> expiry
        self.offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        self.rebalance_deadline_ms: int | None = None
        self.join_not_before_ms = 0
        self.sync_deadline_ms: int | None = None
        self._assignment_in_flight: int | None = None  # the generation whose assignment is being written
        self._persists: dict[int, OnPersisted | None] = {}
        self._next_persist_id = 1
        self._next_member = 1
        self._scheduled: int | None = None

    @classmethod
    def restore(
        cls,
        group_id: str,
        value: GroupMetadataValue | None,
        offsets: dict[TopicPartition, OffsetAndMetadata],
        *,
        now_ms: int,
        coordinator_epoch: int = 0,
        config: GroupConfig | None = None,
        wall_ms: int | None = None,
    ) -> GroupCoordinator:
        """A group as a new coordinator finds it in the log: Stable with the persisted
        generation's members (sessions restarted at `now_ms`), or Empty."""
        group = cls(group_id, coordinator_epoch=coordinator_epoch, config=config, now_ms=now_ms, wall_ms=wall_ms)
        group.offsets = dict(offsets)
        if value is None:
            return group
        group.generation_id = value.generation_id
        group.state_timestamp_ms = value.state_timestamp_ms
        group.protocol_type = value.protocol_type
        if not value.members or value.protocol_name is None:
            return group
        group.protocol_name = value.protocol_name
        for m in value.members:
            group.members[m.member_id] = Member(
                m.member_id,
                m.group_instance_id,
                m.client_id,
                m.session_timeout_ms,
                m.rebalance_timeout_ms,
                value.protocol_type or "",
                ((value.protocol_name, m.subscription),),
                now_ms + m.session_timeout_ms,
                assignment=m.assignment,
                client_host=m.client_host,
            )
            if m.group_instance_id is not None:
                group.static_members[m.group_instance_id] = m.member_id
        group.leader_id = value.leader_id if value.leader_id in group.members else value.members[0].member_id
        group.state = GroupState.STABLE
        return group

    # ---- the entry ------------------------------------------------------------------

    def step(self, event: Event, now_ms: int, *, wall_ms: int | None = None) -> list[Action]:
        """Feed one event at monotonic `now_ms` (wall clock `wall_ms`, default the same)."""
        self._wall_offset = 0 if wall_ms is None else wall_ms - now_ms
        match event:
            case JoinGroup():
                actions = self._join(event, now_ms)
            case SyncGroup():
                actions = self._sync(event, now_ms)
            case Heartbeat():
                actions = [self._reply(event.request_id, HeartbeatResult(self._heartbeat(event, now_ms)))]
            case LeaveGroup():
                actions = self._leave(event, now_ms)
            case OffsetCommit():
                actions = self._commit(event, now_ms)
            case OffsetFetch():
                actions = [self._reply(event.request_id, self._fetch(event))]
            case DescribeGroup():
                actions = [self._reply(event.request_id, self.describe())]
            case DeleteGroup():
                actions = self._delete(event, now_ms)
            case DeleteOffsets():
                actions = self._delete_offsets(event)
            case PersistDone():
                then = self._persists.pop(event.persist_id, None)
                actions = then(event.error, now_ms) if then is not None else []
            case Tick():
                actions = self._tick(now_ms)
            case _:
                raise TypeError(f"not a group event: {event!r}")
        deadline = self.next_deadline_ms()
        if deadline != self._scheduled:
            self._scheduled = deadline
            actions.append(ScheduleTick(deadline))
        return actions

    def next_deadline_ms(self) -> int | None:
        """The earliest time a Tick can change anything (None: no timer is needed)."""
        times = [m.heartbeat_deadline_ms for m in self.members.values() if not m.has_pending_request()]
        times += self.pending_members.values()
        if self.state is GroupState.PREPARING_REBALANCE and self.rebalance_deadline_ms is not None:
            times.append(self.rebalance_deadline_ms)
            if self.join_not_before_ms > 0:
                times.append(self.join_not_before_ms)
        if self.state is GroupState.COMPLETING_REBALANCE and self.sync_deadline_ms is not None:
            times.append(self.sync_deadline_ms)
        if self.state is GroupState.EMPTY and self.offsets:  # wall-clock expiry, as monotonic time
            times.append(min(self._expiry_ms(o) for o in self.offsets.values()) - self._wall_offset)
        return min(times) if times else None

    def _wall(self, now: int) -> int:
        """The wall-clock time at monotonic `now` (for timestamps users see)."""
        return now + self._wall_offset

    # ---- JoinGroup ------------------------------------------------------------------

    def _join(self, ev: JoinGroup, now: int) -> list[Action]:
        def refuse(error: ErrorCode, member_id: str = ev.member_id) -> list[Action]:
            return [self._reply(ev.request_id, JoinResult(error, member_id))]

        if self.state is GroupState.DEAD:
            return refuse(ErrorCode.COORDINATOR_NOT_AVAILABLE)
        if not self.config.min_session_timeout_ms <= ev.session_timeout_ms <= self.config.max_session_timeout_ms:
            return refuse(ErrorCode.INVALID_SESSION_TIMEOUT)
        if not self._supports(ev):
            return refuse(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
        if ev.member_id == NO_MEMBER_ID:
            if ev.group_instance_id is not None and ev.group_instance_id in self.static_members:
                return self._replace_static_member(ev, now)
            member_id = self._new_member_id(ev.client_id)
            if ev.require_known_member_id and ev.group_instance_id is None:
                self.pending_members[member_id] = now + ev.session_timeout_ms
                return refuse(ErrorCode.MEMBER_ID_REQUIRED, member_id)
            return self._add_member(member_id, ev, now)
        if ev.member_id in self.pending_members:
            del self.pending_members[ev.member_id]
            return self._add_member(ev.member_id, ev, now)
        if self._fenced(ev.member_id, ev.group_instance_id):
            return refuse(ErrorCode.FENCED_INSTANCE_ID)
        member = self.members.get(ev.member_id)
        if member is None:
            return refuse(ErrorCode.UNKNOWN_MEMBER_ID)
        return self._rejoin(member, ev, now)

    def _new_member_id(self, client_id: str) -> str:
        """`<client_id>-<coordinator_epoch>-<n>`, skipping ids a restored group already uses (a
        broker restarted without a leader change keeps its epoch, and its counter restarts)."""
        while True:
            member_id = f"{client_id}-{self.coordinator_epoch}-{self._next_member}"
            self._next_member += 1
            if member_id not in self.members and member_id not in self.pending_members:
                return member_id

    def _supports(self, ev: JoinGroup) -> bool:
        if not ev.protocol_type or not ev.protocols:
            return False
        if not self.members:
            return True
        return ev.protocol_type == self.protocol_type and bool(
            common_protocols(self.members.values()) & {name for name, _ in ev.protocols}
        )

    def _fenced(self, member_id: str, instance_id: str | None) -> bool:
        return instance_id is not None and self.static_members.get(instance_id, member_id) != member_id

    def _add_member(self, member_id: str, ev: JoinGroup, now: int) -> list[Action]:
        if not self.members:
            self.protocol_type = ev.protocol_type
        self.members[member_id] = Member(
            member_id,
            ev.group_instance_id,
            ev.client_id,
            ev.session_timeout_ms,
            ev.rebalance_timeout_ms,
            ev.protocol_type,
            ev.protocols,
            now + ev.session_timeout_ms,
            join_request=ev.request_id,
            client_host=ev.client_host,
        )
        if ev.group_instance_id is not None:
            self.static_members[ev.group_instance_id] = member_id
        if self.leader_id is None:
            self.leader_id = member_id
        return self._membership_changed(now)

    def _rejoin(self, member: Member, ev: JoinGroup, now: int) -> list[Action]:
        member.heartbeat_deadline_ms = now + member.session_timeout_ms
        same = ev.protocols == member.protocols
        if self.state is GroupState.COMPLETING_REBALANCE and same:
            return [self._reply(ev.request_id, self._join_result(member))]  # a retried join: same answer
        if self.state is GroupState.STABLE and same and member.member_id != self.leader_id:
            return [self._reply(ev.request_id, self._join_result(member))]
        actions = self._park_join(member, ev.request_id)
        member.protocols = ev.protocols
        member.session_timeout_ms, member.rebalance_timeout_ms = ev.session_timeout_ms, ev.rebalance_timeout_ms
        member.heartbeat_deadline_ms = now + member.session_timeout_ms
        if self.state is GroupState.PREPARING_REBALANCE:
            return actions + self._maybe_complete_join(now)
        return actions + self._prepare_rebalance(now)

    def _park_join(self, member: Member, request_id: int) -> list[Action]:
        """Park a JoinGroup; a join it supersedes (a client retry) is told to start over."""
        actions: list[Action] = []
        if member.join_request is not None:
            actions.append(
                self._reply(member.join_request, JoinResult(ErrorCode.REBALANCE_IN_PROGRESS, member.member_id))
            )
        member.join_request = request_id
        return actions

    def _replace_static_member(self, ev: JoinGroup, now: int) -> list[Action]:
        """KIP-345: a static member came back under a new member id; fence the old one."""
        assert ev.group_instance_id is not None
        old = self.members.pop(self.static_members[ev.group_instance_id])
        new_id = self._new_member_id(ev.client_id)
        actions = self._answer_pending(old, ErrorCode.FENCED_INSTANCE_ID)
        unchanged = ev.protocols == old.protocols
        member = Member(
            new_id,
            ev.group_instance_id,
            ev.client_id,
            ev.session_timeout_ms,
            ev.rebalance_timeout_ms,
            ev.protocol_type,
            ev.protocols,
            now + ev.session_timeout_ms,
            assignment=old.assignment,
            client_host=ev.client_host,
        )
        self.members[new_id] = member
        self.static_members[ev.group_instance_id] = new_id
        if self.leader_id == old.member_id:
            self.leader_id = new_id
        if self.state is GroupState.STABLE and unchanged:
            generation = self.generation_id

            def answered(error: ErrorCode, at: int) -> list[Action]:
                if error is ErrorCode.NONE:
                    return [self._reply(ev.request_id, self._join_result(member, with_members=False))]
                reply = self._reply(ev.request_id, JoinResult(append_error(error), new_id))
                if self.state is GroupState.STABLE and self.generation_id == generation:
                    return [reply] + self._prepare_rebalance(at)  # the log may not name the new id
                return [reply]

            return actions + self._persist([self._group_record(now)], answered)
        member.join_request = ev.request_id
        if self.state is GroupState.PREPARING_REBALANCE:
            return actions + self._maybe_complete_join(now)
        return actions + self._prepare_rebalance(now)

    def _join_result(self, member: Member, *, with_members: bool = True) -> JoinResult:
        assert self.protocol_name is not None and self.leader_id is not None
        members: tuple[JoinMember, ...] = ()
        if with_members and member.member_id == self.leader_id:
            members = tuple(
                JoinMember(m.member_id, m.group_instance_id, m.metadata(self.protocol_name))
                for m in self.members.values()
            )
        return JoinResult(
            ErrorCode.NONE,
            member.member_id,
            self.generation_id,
            self.protocol_type,
            self.protocol_name,
            self.leader_id,
            members,
        )

    # ---- rebalance phases -----------------------------------------------------------

    def _set_state(self, state: GroupState, now: int) -> None:
        self.state = state
        self.state_timestamp_ms = self._wall(now)

    def _membership_changed(self, now: int) -> list[Action]:
        if self.state is GroupState.PREPARING_REBALANCE:
            return self._maybe_complete_join(now)
        if self.state is GroupState.EMPTY and not self.members:
            return []
        return self._prepare_rebalance(now)

    def _prepare_rebalance(self, now: int) -> list[Action]:
        actions: list[Action] = []
        if self.state is GroupState.COMPLETING_REBALANCE:
            for m in self.members.values():
                m.assignment = b""
                if m.sync_request is not None:
                    actions.append(self._reply(m.sync_request, SyncResult(ErrorCode.REBALANCE_IN_PROGRESS)))
                    m.sync_request = None
        was_empty = self.state is GroupState.EMPTY
        self.join_not_before_ms = now + self.config.initial_rebalance_delay_ms if was_empty else 0
        self.rebalance_deadline_ms = now + max((m.rebalance_timeout_ms for m in self.members.values()), default=0)
        self.sync_deadline_ms = None
        self._set_state(GroupState.PREPARING_REBALANCE, now)
        return actions + self._maybe_complete_join(now)

    def _maybe_complete_join(self, now: int) -> list[Action]:
        if self.state is not GroupState.PREPARING_REBALANCE:
            return []
        all_joined = not self.pending_members and all(m.join_request is not None for m in self.members.values())
        deadline = self.rebalance_deadline_ms
        if (all_joined and now >= self.join_not_before_ms) or (deadline is not None and now >= deadline):
            return self._complete_join(now)
        return []

    def _complete_join(self, now: int) -> list[Action]:
        actions: list[Action] = []
        for m in [m for m in self.members.values() if m.join_request is None]:
            actions += self._remove_member(m)  # did not rejoin within the rebalance timeout
        self.generation_id += 1
        self.rebalance_deadline_ms = None
        if not self.members:
            self.protocol_name = self.leader_id = None  # the type stays, as Kafka lists an Empty group
            self._set_state(GroupState.EMPTY, now)
            return actions + self._persist([self._group_record(now)], None)
        members = list(self.members.values())
        self.protocol_name = select_protocol(members)
        if self.leader_id not in self.members:
            self.leader_id = members[0].member_id
        self._set_state(GroupState.COMPLETING_REBALANCE, now)
        self.sync_deadline_ms = now + max(m.rebalance_timeout_ms for m in members)
        for m in members:
            assert m.join_request is not None
            actions.append(self._reply(m.join_request, self._join_result(m)))
            m.join_request = None
            m.assignment = b""
            m.heartbeat_deadline_ms = now + m.session_timeout_ms
        return actions

    def _remove_member(self, member: Member) -> list[Action]:
        actions = self._answer_pending(member, ErrorCode.UNKNOWN_MEMBER_ID)
        del self.members[member.member_id]
        if (
            member.group_instance_id is not None
            and self.static_members.get(member.group_instance_id) == member.member_id
        ):
            del self.static_members[member.group_instance_id]
        if self.leader_id == member.member_id:
            self.leader_id = next(iter(self.members), None)
        return actions

    def _answer_pending(self, member: Member, error: ErrorCode) -> list[Action]:
        actions: list[Action] = []
        if member.join_request is not None:
            actions.append(self._reply(member.join_request, JoinResult(error, member.member_id)))
        if member.sync_request is not None:
            actions.append(self._reply(member.sync_request, SyncResult(error)))
        member.join_request = member.sync_request = None
        return actions

    # ---- SyncGroup, Heartbeat, LeaveGroup -------------------------------------------

    def _check_member(self, member_id: str, instance_id: str | None, generation_id: int) -> ErrorCode:
        if self.state is GroupState.DEAD:
            return ErrorCode.COORDINATOR_NOT_AVAILABLE
        if self._fenced(member_id, instance_id):
            return ErrorCode.FENCED_INSTANCE_ID
        if member_id not in self.members:
            return ErrorCode.UNKNOWN_MEMBER_ID
        if generation_id != self.generation_id:
            return ErrorCode.ILLEGAL_GENERATION
        return ErrorCode.NONE

    def _sync(self, ev: SyncGroup, now: int) -> list[Action]:
        error = self._check_member(ev.member_id, ev.group_instance_id, ev.generation_id)
        if error is ErrorCode.NONE and not self._same_protocol(ev):
            error = ErrorCode.INCONSISTENT_GROUP_PROTOCOL
        if error is ErrorCode.NONE and self.state is GroupState.PREPARING_REBALANCE:
            error = ErrorCode.REBALANCE_IN_PROGRESS
        if error is not ErrorCode.NONE:
            return [self._reply(ev.request_id, SyncResult(error))]
        member = self.members[ev.member_id]
        member.heartbeat_deadline_ms = now + member.session_timeout_ms
        if self.state is GroupState.STABLE:
            return [self._reply(ev.request_id, self._sync_result(member))]
        actions: list[Action] = []
        if member.sync_request is not None:
            actions.append(self._reply(member.sync_request, SyncResult(ErrorCode.REBALANCE_IN_PROGRESS)))
        member.sync_request = ev.request_id
        if ev.member_id == self.leader_id and self._assignment_in_flight != self.generation_id:
            actions += self._store_assignment(dict(ev.assignments), now)
        return actions

    def _same_protocol(self, ev: SyncGroup) -> bool:
        """SyncGroup v5+ names the protocol the member thinks it joined with (Kafka's check)."""
        return ev.protocol_type in (None, self.protocol_type) and ev.protocol_name in (None, self.protocol_name)

    def _sync_result(self, member: Member) -> SyncResult:
        return SyncResult(ErrorCode.NONE, member.assignment, self.protocol_type, self.protocol_name)

    def _store_assignment(self, given: dict[str, bytes], now: int) -> list[Action]:
        """Write the leader's assignment; go Stable and answer the parked syncs once stored."""
        assignment = {mid: given.get(mid, b"") for mid in self.members}
        generation = self.generation_id
        self._assignment_in_flight = generation

        def stored(error: ErrorCode, at: int) -> list[Action]:
            if self.generation_id != generation or self.state is not GroupState.COMPLETING_REBALANCE:
                return []  # a rebalance began meanwhile and answered everyone
            self._assignment_in_flight = None
            if error is not ErrorCode.NONE:
                actions: list[Action] = []
                for m in self.members.values():
                    if m.sync_request is not None:
                        actions.append(self._reply(m.sync_request, SyncResult(append_error(error))))
                        m.sync_request = None
                return actions + self._prepare_rebalance(at)
            for mid, m in self.members.items():
                m.assignment = assignment.get(mid, b"")
            self._set_state(GroupState.STABLE, at)
            self.sync_deadline_ms = None
            actions = []
            for m in self.members.values():
                if m.sync_request is not None:
                    actions.append(self._reply(m.sync_request, self._sync_result(m)))
                    m.sync_request = None
            return actions

        return self._persist([self._group_record(now, assignment)], stored)

    def _heartbeat(self, ev: Heartbeat, now: int) -> ErrorCode:
        error = self._check_member(ev.member_id, ev.group_instance_id, ev.generation_id)
        if error is not ErrorCode.NONE:
            return error
        member = self.members[ev.member_id]
        member.heartbeat_deadline_ms = now + member.session_timeout_ms
        if self.state is GroupState.PREPARING_REBALANCE:
            return ErrorCode.REBALANCE_IN_PROGRESS
        return ErrorCode.NONE

    def _leave(self, ev: LeaveGroup, now: int) -> list[Action]:
        if self.state is GroupState.DEAD:
            return [self._reply(ev.request_id, LeaveResult(ErrorCode.COORDINATOR_NOT_AVAILABLE))]
        actions: list[Action] = []
        results: list[tuple[MemberIdentity, ErrorCode]] = []
        removed = False
        for ident in ev.members:
            if ident.group_instance_id is None and ident.member_id in self.pending_members:
                del self.pending_members[ident.member_id]
                results.append((ident, ErrorCode.NONE))
                continue
            member_id = ident.member_id
            if ident.group_instance_id is not None:
                known = self.static_members.get(ident.group_instance_id)
                if known is not None and member_id not in (NO_MEMBER_ID, known):
                    results.append((ident, ErrorCode.FENCED_INSTANCE_ID))
                    continue
                member_id = known or member_id
            member = self.members.get(member_id)
            if member is None:
                results.append((ident, ErrorCode.UNKNOWN_MEMBER_ID))
                continue
            actions += self._remove_member(member)
            results.append((ident, ErrorCode.NONE))
            removed = True
        if removed:
            actions += self._membership_changed(now)
        return [self._reply(ev.request_id, LeaveResult(ErrorCode.NONE, tuple(results)))] + actions

    # ---- timers ---------------------------------------------------------------------

    def _tick(self, now: int) -> list[Action]:
        for member_id in [mid for mid, expiry in self.pending_members.items() if expiry <= now]:
            del self.pending_members[member_id]
        actions: list[Action] = []
        expired = [m for m in self.members.values() if not m.has_pending_request() and m.heartbeat_deadline_ms <= now]
        if (
            self.state is GroupState.COMPLETING_REBALANCE
            and self.sync_deadline_ms is not None
            and self.sync_deadline_ms <= now
        ):
            expired += [m for m in self.members.values() if m.sync_request is None and m not in expired]
        for m in expired:
            actions += self._remove_member(m)
        if expired:
            actions += self._membership_changed(now)
        actions += self._maybe_complete_join(now)
        if self.state is GroupState.EMPTY:
            actions += self._expire_offsets(now)
        return actions

    def _expiry_ms(self, offset: OffsetAndMetadata) -> int:
        """Offsets of an Empty group live for the retention after the later of the group
        becoming Empty and their commit (Kafka 2.1+, KIP-211)."""
        return max(self.state_timestamp_ms, offset.commit_timestamp_ms) + self.config.offsets_retention_ms

    def _expire_offsets(self, now: int) -> list[Action]:
        gone = [tp for tp, o in self.offsets.items() if self._expiry_ms(o) <= self._wall(now)]
        if not gone:
            return []
        records = [offset_record(self.group_id, t, p, None) for t, p in gone]
        for tp in gone:
            del self.offsets[tp]
        if not self.offsets:
            records.append(group_record(self.group_id, None))
            self._set_state(GroupState.DEAD, now)
        return self._persist(records, None)

    def _delete(self, ev: DeleteGroup, now: int) -> list[Action]:
        """DeleteGroups: an Empty group becomes Dead at once (no new member can join it
        meanwhile) and its offsets and metadata are tombstoned; the answer waits for the write."""
        if self.state is GroupState.DEAD:
            return [self._reply(ev.request_id, DeleteGroupResult(ErrorCode.GROUP_ID_NOT_FOUND))]
        if self.state is not GroupState.EMPTY:
            return [self._reply(ev.request_id, DeleteGroupResult(ErrorCode.NON_EMPTY_GROUP))]
        records = [offset_record(self.group_id, t, p, None) for t, p in sorted(self.offsets)]
        records.append(group_record(self.group_id, None))
        self.offsets.clear()
        self._set_state(GroupState.DEAD, now)
        return self._persist(
            records,
            lambda err, at: [
                self._reply(ev.request_id, DeleteGroupResult(err if err is ErrorCode.NONE else append_error(err)))
            ],
        )

    def _subscribed_topics(self) -> set[str]:
        """Topics the members subscribe to, for a consumer-protocol group with members."""
        if self.protocol_type != "consumer" or self.protocol_name is None:
            return set()
        topics: set[str] = set()
        for member in self.members.values():
            try:
                topics.update(decode_subscription(member.metadata(self.protocol_name)))
            except (KeyError, ValueError):  # not readable as ConsumerProtocol: it protects nothing
                continue
        return topics

    def _delete_offsets(self, ev: DeleteOffsets) -> list[Action]:
        """OffsetDelete: tombstone the partitions' offsets; a partition of a topic a member
        subscribes to keeps its offset and answers GROUP_SUBSCRIBED_TO_TOPIC, as in Kafka."""
        if self.state is GroupState.DEAD:
            return [self._reply(ev.request_id, DeleteOffsetsResult(ErrorCode.GROUP_ID_NOT_FOUND))]
        protected = self._subscribed_topics()
        answers = tuple(
            (tp, ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC if tp[0] in protected else ErrorCode.NONE) for tp in ev.partitions
        )
        gone = sorted({tp for tp, err in answers if err is ErrorCode.NONE and tp in self.offsets})
        if not gone:
            return [self._reply(ev.request_id, DeleteOffsetsResult(ErrorCode.NONE, answers))]
        for tp in gone:
            del self.offsets[tp]
        records = [offset_record(self.group_id, t, p, None) for t, p in gone]
        return self._persist(
            records,
            lambda err, at: [
                self._reply(
                    ev.request_id,
                    DeleteOffsetsResult(ErrorCode.NONE, answers)
                    if err is ErrorCode.NONE
                    else DeleteOffsetsResult(append_error(err)),
                )
            ],
        )

    # ---- offsets --------------------------------------------------------------------

    def _commit_error(self, ev: OffsetCommit) -> ErrorCode:
        if self.state is GroupState.DEAD:
            return ErrorCode.COORDINATOR_NOT_AVAILABLE
        if ev.generation_id < 0 and self.state is GroupState.EMPTY:
            return ErrorCode.NONE  # a simple commit: the group only stores offsets
        error = self._check_member(ev.member_id, ev.group_instance_id, ev.generation_id)
        if error is ErrorCode.NONE and self.state is GroupState.COMPLETING_REBALANCE:
            return ErrorCode.REBALANCE_IN_PROGRESS
        return error

    def _commit(self, ev: OffsetCommit, now: int) -> list[Action]:
        error = self._commit_error(ev)
        if error is not ErrorCode.NONE:
            return [self._reply(ev.request_id, OffsetCommitResult(error, tuple((tp, error) for tp, _ in ev.offsets)))]
        member = self.members.get(ev.member_id)
        if member is not None:
            member.heartbeat_deadline_ms = now + member.session_timeout_ms
        too_large = {tp for tp, o in ev.offsets if len(o.metadata.encode()) > self.config.max_metadata_size}
        accepted = {
            tp: o
            if o.commit_timestamp_ms >= 0
            else OffsetAndMetadata(o.offset, o.leader_epoch, o.metadata, self._wall(now))
            for tp, o in ev.offsets
            if tp not in too_large
        }

        def answer(append: ErrorCode) -> list[Action]:
            result = tuple(
                (tp, ErrorCode.OFFSET_METADATA_TOO_LARGE if tp in too_large else append) for tp, _ in ev.offsets
            )
            return [self._reply(ev.request_id, OffsetCommitResult(ErrorCode.NONE, result))]

        if not accepted:
            return answer(ErrorCode.NONE)

        def stored(err: ErrorCode, at: int) -> list[Action]:
            if err is not ErrorCode.NONE:
                return answer(append_error(err))
            if self.state is not GroupState.DEAD:
                self.offsets.update(accepted)
            return answer(ErrorCode.NONE)

        records = [offset_record(self.group_id, t, p, o) for (t, p), o in accepted.items()]
        return self._persist(records, stored)

    def _fetch(self, ev: OffsetFetch) -> OffsetFetchResult:
        wanted = sorted(self.offsets) if ev.partitions is None else list(ev.partitions)
        unknown = OffsetAndMetadata(UNKNOWN_OFFSET)
        return OffsetFetchResult(ErrorCode.NONE, tuple((tp, self.offsets.get(tp, unknown)) for tp in wanted))

    # ---- persistence and views ------------------------------------------------------

    def _persist(self, records: list[Record], then: OnPersisted | None) -> list[Action]:
        persist_id = self._next_persist_id
        self._next_persist_id += 1
        if then is not None:
            self._persists[persist_id] = then
        return [Persist(persist_id, tuple(records))]

    def _group_record(self, now: int, assignment: dict[str, bytes] | None = None) -> Record:
        return group_record(self.group_id, self.metadata_value(now, assignment))

    def metadata_value(self, now: int, assignment: dict[str, bytes] | None = None) -> GroupMetadataValue:
        """The group as Kafka persists it: the generation's members with their chosen-protocol
        subscription and assignment (`assignment` overrides the members' current ones)."""
        protocol = self.protocol_name
        members = tuple(
            MemberRecord(
                m.member_id,
                m.group_instance_id,
                m.client_id,
                m.session_timeout_ms,
                m.rebalance_timeout_ms,
                m.metadata(protocol) if protocol is not None else b"",
                assignment.get(m.member_id, b"") if assignment is not None else m.assignment,
                m.client_host,
            )
            for m in self.members.values()
        )
        return GroupMetadataValue(
            self.protocol_type, self.generation_id, protocol, self.leader_id, self._wall(now), members
        )

    def describe(self) -> GroupDescription:
        """As Kafka describes a group: subscriptions, assignments and the protocol only
        while Stable (otherwise they are in flux and left empty)."""
        protocol = self.protocol_name if self.state is GroupState.STABLE else None
        members = tuple(
            MemberDescription(
                m.member_id,
                m.group_instance_id,
                m.client_id,
                m.metadata(protocol) if protocol else b"",
                m.assignment if protocol else b"",
                m.client_host,
            )
            for m in self.members.values()
        )
        return GroupDescription(ErrorCode.NONE, self.state, self.protocol_type, protocol, self.generation_id, members)

    @staticmethod
    def _reply(request_id: int, response: Response) -> Reply:
        return Reply(request_id, response)
