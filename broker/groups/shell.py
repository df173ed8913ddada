"""`PartitionCoordinator`: the asyncio shell around the groups of one `__consumer_offsets` partition.

The broker runs one per offsets partition it leads. It loads the partition's groups
from the log when leadership arrives (requests meanwhile get COORDINATOR_LOAD_IN_PROGRESS),
feeds each request to its group's sans-I/O `GroupCoordinator` with a fresh request id,
and carries out the actions: `Reply` resolves the waiting request, `Persist` appends the
records to the partition at once (so appends keep the core's order) and feeds
`PersistDone` once the high watermark passes them (acks=all), `ScheduleTick` keeps one
timer per group. On resignation every waiting request is told NOT_COORDINATOR and the
timers stop. This module must never decide group behaviour (the core does) and never
read or write files itself: the partition I/O object does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from broker.groups.coordinator import GroupConfig, GroupCoordinator
from broker.groups.loader import GroupLoader
from broker.groups.messages import (
    Action,
    ErrorCode,
    Event,
    GroupState,
    JoinGroup,
    OffsetCommit,
    Persist,
    PersistDone,
    Reply,
    Response,
    ScheduleTick,
    Tick,
)
from broker.groups.records import Record
from broker.refusal import RequestRefusedError

log = logging.getLogger(__name__)


class CoordinatorRefusedError(RequestRefusedError):
    """This broker cannot serve the group now; `code` tells the client what to do next."""


class OffsetsPartitionIO(Protocol):
    """What the shell needs from the offsets partition it leads."""

    @property
    def leader_epoch(self) -> int: ...

    def read_records(self) -> Iterable[Record]:
        """Every keyed record from the log start to the log end offset, in log order."""

    def append(self, records: Sequence[Record], now_ms: int) -> Awaitable[None]:
        """Append now (raising on refusal); the awaitable ends once the records are replicated."""


def wall_clock_ms() -> int:
    """For timestamps users see (commits, record timestamps); it steps with the system clock."""
    return int(time.time() * 1000)


def monotonic_ms() -> int:
    """For every timeout (member sessions, rebalances, timers); it never steps."""
    return int(time.monotonic() * 1000)


class PartitionCoordinator:
    def __init__(
        self,
        partition: int,
        io: OffsetsPartitionIO,
        config: GroupConfig,
        clock: Callable[[], int] = monotonic_ms,
        wall_clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.partition = partition
        self.io = io
        self.config = config
        self.clock = clock
        self.wall_clock = wall_clock
        self.epoch = io.leader_epoch
        self.loading = True
        self.closed = False
        self.groups: dict[str, GroupCoordinator] = {}
        self._waiters: dict[int, asyncio.Future] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._next_request = 1

    # ---- life cycle -----------------------------------------------------------------

    def load(self, records: Iterable[Record] | None = None) -> int:
        """Rebuild every group from the log's records (default: read them now) after a
        coordinator failover or restart; returns how many groups there are."""
        loader = GroupLoader()
        for record in self.io.read_records() if records is None else records:
            loader.apply(record)
        if self.closed:
            return 0
        self.groups = loader.build(
            now_ms=self.clock(), coordinator_epoch=self.epoch, config=self.config, wall_ms=self.wall_clock()
        )
        self.loading = False
        for group in list(self.groups.values()):
            self._drive(group, Tick())
        return len(self.groups)

    def close(self) -> None:
        """Leadership moved away: refuse what is waiting, stop every timer."""
        self.closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        waiters, self._waiters = self._waiters, {}
        for fut in waiters.values():
            if not fut.done():
                fut.set_exception(
                    CoordinatorRefusedError(
                        ErrorCode.NOT_COORDINATOR,
                        f"this broker stopped coordinating offsets partition {self.partition}",
                    )
                )

    # ---- requests -------------------------------------------------------------------

    async def request(self, group_id: str, make: Callable[[int], Event]) -> Response:
        """Feed one request to its group and wait for the answer."""
        if self.closed:
            raise CoordinatorRefusedError(
                ErrorCode.NOT_COORDINATOR, f"this broker no longer coordinates offsets partition {self.partition}"
            )
        if self.loading:
            raise CoordinatorRefusedError(
                ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
                f"offsets partition {self.partition} is still being loaded; retry",
            )
        request_id = self._next_request
        self._next_request += 1
        event = make(request_id)
        group = self.groups.get(group_id)
        if group is None:
            group = GroupCoordinator(
                group_id,
                coordinator_epoch=self.epoch,
                config=self.config,
                now_ms=self.clock(),
                wall_ms=self.wall_clock(),
            )
            if isinstance(event, (JoinGroup, OffsetCommit)):
                self.groups[group_id] = group  # only these create a group; others ask a blank one
        fut = asyncio.get_running_loop().create_future()
        self._waiters[request_id] = fut
        try:
            self._drive(group, event)
            return await fut
        finally:
            self._waiters.pop(request_id, None)

    def group(self, group_id: str) -> GroupCoordinator | None:
        return self.groups.get(group_id)

    # ---- carrying out actions -------------------------------------------------------

    def _drive(self, group: GroupCoordinator, event: Event) -> None:
        if self.closed:
            return
        actions = group.step(event, self.clock(), wall_ms=self.wall_clock())
        scheduled = False
        for action in actions:
            scheduled |= isinstance(action, ScheduleTick)
            self._carry_out(group, action)
        if isinstance(event, Tick) and not scheduled:
            # a timer may fire a little before the deadline: arm it again
            self._schedule(group, group.next_deadline_ms())
        if group.state is GroupState.DEAD and self.groups.get(group.group_id) is group:
            del self.groups[group.group_id]  # the core's rule: a Dead group is dropped
            timer = self._timers.pop(group.group_id, None)
            if timer is not None:
                timer.cancel()

    def _carry_out(self, group: GroupCoordinator, action: Action) -> None:
        match action:
            case Reply(request_id, response):
                fut = self._waiters.pop(request_id, None)
                if fut is not None and not fut.done():
                    fut.set_result(response)
            case Persist():
                self._persist(group, action)
            case ScheduleTick(at_ms):
                self._schedule(group, at_ms)

    def _persist(self, group: GroupCoordinator, action: Persist) -> None:
        loop = asyncio.get_running_loop()
        try:
            written = asyncio.ensure_future(self.io.append(action.records, self.wall_clock()))
        except Exception as exc:  # noqa: BLE001 - refused before anything was written: tell the core now
            log.warning("offsets partition %d: append for group %s refused: %s", self.partition, group.group_id, exc)
            loop.call_soon(self._feed, group, PersistDone(action.persist_id, _persist_error(exc)))
            return

        def done(fut: asyncio.Future) -> None:
            error = ErrorCode.NONE
            if fut.cancelled():
                error = ErrorCode.COORDINATOR_NOT_AVAILABLE
            elif (exc := fut.exception()) is not None:
                error = _persist_error(exc)
            self._feed(group, PersistDone(action.persist_id, error))

        written.add_done_callback(done)

    def _feed(self, group: GroupCoordinator, event: Event) -> None:
        """Deliver a later event (timer, finished write) if the group is still ours."""
        if not self.closed and self.groups.get(group.group_id) in (group, None):
            self._drive(group, event)

    def _schedule(self, group: GroupCoordinator, at_ms: int | None) -> None:
        old = self._timers.pop(group.group_id, None)
        if old is not None:
            old.cancel()
        if at_ms is None or self.closed:
            return
        delay = max(at_ms - self.clock(), 0) / 1000
        self._timers[group.group_id] = asyncio.get_running_loop().call_later(delay, self._feed, group, Tick())


def _persist_error(exc: BaseException) -> ErrorCode:
    code = getattr(exc, "code", None)
    if code is not None and int(code) in (ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.NOT_COORDINATOR):
        return ErrorCode.NOT_LEADER_OR_FOLLOWER
    return ErrorCode.COORDINATOR_NOT_AVAILABLE
