"""ConsumerCoordinator: a consumer's membership in its group (Kafka's eager group protocol).

It finds the group's coordinator (FindCoordinator, preferring the controller, which can
create `__consumer_offsets` on first use), keeps its own connection to it (a parked
JoinGroup must never stall fetches), and runs the protocol:

- Rebalances run inside `poll()`, as in Kafka's Java client: when a rejoin is needed,
  the next poll commits the positions (auto-commit), calls `on_partitions_revoked`,
  joins, lets the leader compute the assignment with the chosen assignor, syncs,
  installs the new assignment, seeks each partition to its committed offset (the rest
  follow `auto_offset_reset`) and calls `on_partitions_assigned`. So records a poll
  returned were processed by the application before their partitions move.
- A background task heartbeats every `heartbeat_interval_ms`; an answer asking for a
  rebalance marks a rejoin for the next poll. If the application does not poll within
  `max_poll_interval_ms` the member leaves the group (its partitions go to others).
- Auto-commit commits the positions of records already handed out, at poll time, every
  `auto_commit_interval_ms`, before a rebalance and on close.

Static members (`group_instance_id`) never send LeaveGroup on close, so a restart within
the session timeout keeps the assignment without a rebalance. This module must never
fetch records (the Fetcher does) nor decide an assignment (the assignors do).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from client.assignors import ASSIGNORS, RANGE
from client.client import NetworkClient
from client.conn import BrokerConnection
from client.consumer.group_protocol import (
    PROTOCOL_TYPE,
    GroupProtocolError,
    decode_assignment,
    decode_subscription,
    encode_assignment,
    encode_subscription,
)
from client.consumer.subscription_state import SubscriptionState
from client.errors import BrokerConnectionError, ClientError, ClientTimeoutError, CommitFailedError
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import RETRIABLE, BrokerError, ErrorCode
from client.structs import TopicPartition

log = logging.getLogger(__name__)

_COORDINATOR_GONE = frozenset({ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE})
_MEMBERSHIP_LOST = frozenset({ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.ILLEGAL_GENERATION})
NO_GENERATION = -1


class RejoinNeededError(Exception):
    """The join or sync round must start over (internal to the coordinator)."""


class ConsumerCoordinator:
    def __init__(
        self,
        client: NetworkClient,
        subscriptions: SubscriptionState,
        *,
        group_id: str,
        session_timeout_ms: int = 45000,
        heartbeat_interval_ms: int = 3000,
        max_poll_interval_ms: int = 300000,
        group_instance_id: str | None = None,
        assignors: Sequence[str] = (RANGE,),
        enable_auto_commit: bool = True,
        auto_commit_interval_ms: int = 5000,
        metadata_max_age_ms: int = 300000,
    ) -> None:
        unknown = [a for a in assignors if a not in ASSIGNORS]
        if unknown or not assignors:
            raise ValueError(
                f"partition_assignment_strategy must name assignors among {sorted(ASSIGNORS)}, not {list(assignors)!r}"
            )
        if heartbeat_interval_ms >= session_timeout_ms:
            raise ValueError("heartbeat_interval_ms must be lower than session_timeout_ms (a third is usual)")
        self.client = client
        self.subs = subscriptions
        self.group_id = group_id
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval = heartbeat_interval_ms / 1000
        self.max_poll_interval_ms = max_poll_interval_ms
        self.group_instance_id = group_instance_id
        self.assignors = list(assignors)
        self.enable_auto_commit = enable_auto_commit
        self.auto_commit_interval = auto_commit_interval_ms / 1000
        self.metadata_max_age = metadata_max_age_ms / 1000
        self.member_id = ""
        self.generation = NO_GENERATION
        self.protocol: str | None = None
        self.leader_id: str | None = None
        self.rejoin_needed = True
        self._coordinator: BrokerConnection | None = None
        self._join_task: asyncio.Task | None = None
        self._heartbeat_task: asyncio.Task | None = None
        self._last_poll = time.monotonic()
        self._next_auto_commit = time.monotonic() + self.auto_commit_interval
        self._next_pattern_check = 0.0
        self._fatal: BaseException | None = None
        self._closing = False
        self._background: set[asyncio.Task] = set()

    # ---- life cycle -----------------------------------------------------------------

    def start(self) -> None:
        if self._heartbeat_task is None:
            self._heartbeat_task = asyncio.get_running_loop().create_task(
                self._heartbeat_loop(), name=f"heartbeat-{self.group_id}"
            )

    async def close(self) -> None:
        """Commit (auto-commit), leave the group (dynamic members), drop the connection."""
        self._closing = True
        for task in (self._heartbeat_task, self._join_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        try:
            if self.subs.subscribed and self.member_id:
                if self.enable_auto_commit and self.generation >= 0:
                    await self._commit_positions_quietly("closing")
                await self._leave("the consumer is closing")  # static members stay (see _leave)
        finally:
            if self._coordinator is not None:
                self._coordinator.close()
                self._coordinator = None

    # ---- what poll() calls ----------------------------------------------------------

    async def poll(self, timeout: float) -> bool:
        """Called at the start of every poll: True once the member holds a current assignment.

        Runs (or continues) a rebalance for at most `timeout` seconds; the rebalance itself
        keeps going in the background if the poll returns first."""
        self._last_poll = time.monotonic()
        if self._fatal is not None:
            raise self._fatal
        if not self.subs.subscribed:
            return True
        await self._maybe_check_pattern()
        if self.rejoin_needed or self.generation < 0 or self._join_task is not None:
            if self._join_task is None:
                self._join_task = asyncio.get_running_loop().create_task(
                    self._rebalance(), name=f"rebalance-{self.group_id}"
                )
            done, _ = await asyncio.wait({self._join_task}, timeout=max(timeout, 0))
            if not done:
                return False
            task, self._join_task = self._join_task, None
            task.result()
        if self.enable_auto_commit and time.monotonic() >= self._next_auto_commit:
            self._next_auto_commit = time.monotonic() + self.auto_commit_interval
            task = asyncio.get_running_loop().create_task(self._commit_positions_quietly("auto-commit"))
            self._background.add(task)  # the loop keeps only weak references
            task.add_done_callback(self._background.discard)
        return True

    async def _maybe_check_pattern(self) -> None:
        if self.subs.pattern is None or time.monotonic() < self._next_pattern_check:
            return
        self._next_pattern_check = time.monotonic() + self.metadata_max_age
        cluster = await self.client.refresh_metadata(all_topics=True)
        if self.subs.match_pattern(cluster.topics()):
            log.info("group %s: pattern now matches %s; rejoining", self.group_id, sorted(self.subs.subscription or ()))
            self.rejoin_needed = True

    # ---- rebalance ------------------------------------------------------------------

    async def _rebalance(self) -> None:
        assigned = self.subs.assigned()
        if assigned:
            if self.enable_auto_commit and self.generation >= 0:
                await self._commit_positions_quietly("before the rebalance")
            await self._call_listener("on_partitions_revoked", set(assigned))
            self.subs.assign_from_subscribed([])
        self.client.topics.update(self.subs.subscription or ())
        while True:
            self.rejoin_needed = False
            try:
                assignment = await self._join_and_sync()
                break
            except RejoinNeededError:
                continue
            except (BrokerConnectionError, ClientTimeoutError) as exc:
                log.info("group %s: coordinator unreachable during the rebalance (%s)", self.group_id, exc)
                self._coordinator_dead()
            await asyncio.sleep(self.client.retry_backoff)
        self.subs.assign_from_subscribed(assignment)
        try:
            committed = await self._fetch_committed_patiently(assignment)
        except BaseException:
            self.subs.assign_from_subscribed([])  # never read an assignment without its committed positions
            self.rejoin_needed = True
            raise
        if committed is None:
            self.subs.assign_from_subscribed([])
            return
        for tp, offset in committed.items():
            if offset is not None:
                self.subs.seek(tp, offset)
        log.info(
            "group %s generation %d: member %s assigned %s",
            self.group_id,
            self.generation,
            self.member_id,
            sorted(assignment),
        )
        await self._call_listener("on_partitions_assigned", set(assignment))

    async def _fetch_committed_patiently(
        self, assignment: list[TopicPartition]
    ) -> dict[TopicPartition, int | None] | None:
        """The assignment's committed offsets, retried (the rebalance runs in the background,
        polls return [] meanwhile) while the coordinator is unreachable or moving, as in
        Kafka; None if the group needs a new rebalance first (the next poll rejoins)."""
        while True:
            try:
                return await self.fetch_committed(assignment)
            except (ClientError, BrokerError) as exc:
                if isinstance(exc, BrokerError) and not exc.retriable:
                    raise
                log.info("group %s: committed offsets not available yet (%s); retrying", self.group_id, exc)
            if self.rejoin_needed:
                return None
            await asyncio.sleep(self.client.retry_backoff)

    async def _join_and_sync(self) -> list[TopicPartition]:
        coordinator = await self._ensure_coordinator()
        topics = sorted(self.subs.subscription or ())
        metadata = encode_subscription(topics)
        join = await self._request(
            coordinator,
            ApiKey.JOIN_GROUP,
            m.JoinGroupRequest(
                group_id=self.group_id,
                session_timeout_ms=self.session_timeout_ms,
                rebalance_timeout_ms=self.max_poll_interval_ms,
                member_id=self.member_id,
                group_instance_id=self.group_instance_id,
                protocol_type=PROTOCOL_TYPE,
                protocols=[
                    m.JoinGroupRequest.JoinGroupRequestProtocol(name=name, metadata=metadata) for name in self.assignors
                ],
            ),
        )
        if join.error_code == ErrorCode.MEMBER_ID_REQUIRED:  # KIP-394: rejoin with the id we were given
            self.member_id = join.member_id
            raise RejoinNeededError()
        self._check(join.error_code, "JoinGroup")
        self.member_id, self.generation = join.member_id, join.generation_id
        self.protocol, self.leader_id = join.protocol_name, join.leader
        assignments: list[m.SyncGroupRequest.SyncGroupRequestAssignment] = []
        if self.leader_id == self.member_id and join.members:
            assignments = await self._assign(join.protocol_name or "", join.members)
        sync = await self._request(
            coordinator,
            ApiKey.SYNC_GROUP,
            m.SyncGroupRequest(
                group_id=self.group_id,
                generation_id=self.generation,
                member_id=self.member_id,
                group_instance_id=self.group_instance_id,
                protocol_type=PROTOCOL_TYPE,
                protocol_name=self.protocol,
                assignments=assignments,
            ),
        )
        self._check(sync.error_code, "SyncGroup")
        return decode_assignment(bytes(sync.assignment))

    def _check(self, code: int, what: str) -> None:
        """Act on a group error code; raise RejoinNeededError for the ones a new round fixes."""
        if code == ErrorCode.NONE:
            return
        if code == ErrorCode.UNKNOWN_MEMBER_ID:
            self.member_id, self.generation = "", NO_GENERATION
            raise RejoinNeededError()
        if code in (ErrorCode.REBALANCE_IN_PROGRESS, ErrorCode.ILLEGAL_GENERATION):
            raise RejoinNeededError()
        if code in _COORDINATOR_GONE:
            self._coordinator_dead()
        error = BrokerError.for_code(code, f"{what} for group {self.group_id}")
        if code in RETRIABLE:
            raise BrokerConnectionError(str(error))  # retried by the rebalance loop after a backoff
        self._fatal = error
        raise error

    async def _assign(
        self, protocol: str, members: list[m.JoinGroupResponse.JoinGroupResponseMember]
    ) -> list[m.SyncGroupRequest.SyncGroupRequestAssignment]:
        """The leader's job: every member's share of the subscribed partitions. Members may
        be any Kafka client: their subscriptions are Kafka's ConsumerProtocol bytes."""
        keys: dict[str, str] = {}
        subscriptions: dict[str, list[str]] = {}
        for member in members:
            key = member.group_instance_id or member.member_id  # static members keep their partitions
            keys[key] = member.member_id
            try:
                subscriptions[key] = decode_subscription(bytes(member.metadata))
            except GroupProtocolError as exc:  # one unreadable member must not stop the group
                log.warning(
                    "group %s: member %s sent a subscription we cannot read (%s); it gets nothing",
                    self.group_id,
                    member.member_id,
                    exc,
                )
                subscriptions[key] = []
        topics = {t for ts in subscriptions.values() for t in ts}
        self.client.topics.update(topics)
        cluster = await self.client.refresh_metadata()
        counts = {t: len(cluster.partitions_for(t) or ()) for t in topics}
        result = ASSIGNORS[protocol](subscriptions, {t: n for t, n in counts.items() if n})
        return [
            m.SyncGroupRequest.SyncGroupRequestAssignment(member_id=keys[key], assignment=encode_assignment(tps))
            for key, tps in result.items()
        ]

    async def _call_listener(self, name: str, partitions: set[TopicPartition]) -> None:
        callback = getattr(self.subs.listener, name, None)
        if callback is None:
            return
        try:
            result = callback(partitions)
            if inspect.isawaitable(result):
                await result
        except Exception:  # a listener bug must not wedge the group: log it, as Kafka does
            log.exception("group %s: %s raised", self.group_id, name)

    # ---- coordinator discovery ------------------------------------------------------

    async def _ensure_coordinator(self) -> BrokerConnection:
        while self._coordinator is None or not self._coordinator.connected:
            body = m.FindCoordinatorRequest(key=self.group_id, key_type=0)
            controller = self.client.cluster.controller_id
            try:
                if controller in self.client.cluster.brokers:
                    answer = await self.client.request(controller, ApiKey.FIND_COORDINATOR, body)
                else:
                    answer = await self.client.any_request(ApiKey.FIND_COORDINATOR, body)
                code = answer.error_code
                if code == ErrorCode.NONE:
                    self._coordinator = await BrokerConnection.open(
                        answer.host,
                        answer.port,
                        client_id=self.client.client_id,
                        request_timeout_ms=self.client.request_timeout_ms,
                        security=self.client.security,
                    )
                    log.info(
                        "group %s: coordinator is broker %d at %s:%d",
                        self.group_id,
                        answer.node_id,
                        answer.host,
                        answer.port,
                    )
                    break
                if code not in RETRIABLE:
                    raise BrokerError.for_code(code, answer.error_message)
                log.debug("group %s: no coordinator yet: %s", self.group_id, answer.error_message)
            except (BrokerConnectionError, ClientTimeoutError) as exc:
                log.info("group %s: finding the coordinator failed (%s)", self.group_id, exc)
                self.client.request_refresh()
            await asyncio.sleep(self.client.retry_backoff)
        return self._coordinator

    def _coordinator_dead(self) -> None:
        if self._coordinator is not None:
            self._coordinator.close()
            self._coordinator = None

    async def _request(self, conn: BrokerConnection, api_key: ApiKey, body: m.Message) -> Any:
        """`body` to the coordinator within request_timeout_ms, except JoinGroup and SyncGroup,
        which the coordinator holds until the whole group has joined (up to the rebalance
        timeout, max_poll_interval_ms), as Kafka allows. A hung coordinator is thus noticed
        after request_timeout_ms, not minutes later."""
        long_wait = api_key in (ApiKey.JOIN_GROUP, ApiKey.SYNC_GROUP)
        timeout_ms = self.client.request_timeout_ms + self.max_poll_interval_ms if long_wait else None
        try:
            return await conn.request(api_key, body, timeout_ms=timeout_ms)
        except (BrokerConnectionError, ClientTimeoutError):
            self._coordinator_dead()
            raise

    # ---- heartbeats -----------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.heartbeat_interval)
            joining = self._join_task is not None and not self._join_task.done()
            if joining or self.generation < 0:
                continue  # (a pending rejoin still heartbeats: the session must outlive a slow poll)
            if (time.monotonic() - self._last_poll) * 1000 > self.max_poll_interval_ms:
                log.warning(
                    "group %s: poll() was not called within max_poll_interval_ms=%d; leaving the group "
                    "so its partitions move (poll more often or process fewer records per poll)",
                    self.group_id,
                    self.max_poll_interval_ms,
                )
                await self._leave("max_poll_interval_ms passed without a poll")
                continue
            try:
                await self._heartbeat()
            except ClientError as exc:
                log.info("group %s: heartbeat failed (%s); finding the coordinator again", self.group_id, exc)
                self._coordinator_dead()
            except Exception:  # never let the loop die: the member would silently expire
                log.exception("group %s: heartbeat failed", self.group_id)

    async def _heartbeat(self) -> None:
        conn = await self._ensure_coordinator()
        answer = await self._request(
            conn,
            ApiKey.HEARTBEAT,
            m.HeartbeatRequest(
                group_id=self.group_id,
                generation_id=self.generation,
                member_id=self.member_id,
                group_instance_id=self.group_instance_id,
            ),
        )
        code = answer.error_code
        if code == ErrorCode.NONE:
            return
        if code == ErrorCode.REBALANCE_IN_PROGRESS or code in _MEMBERSHIP_LOST:
            if code == ErrorCode.UNKNOWN_MEMBER_ID:
                self.member_id, self.generation = "", NO_GENERATION
            log.info("group %s: heartbeat answered %s; rejoining at the next poll", self.group_id, ErrorCode(code).name)
            self.rejoin_needed = True
        elif code in _COORDINATOR_GONE:
            self._coordinator_dead()
        elif code == ErrorCode.FENCED_INSTANCE_ID:
            self._fatal = BrokerError.for_code(
                code, f"another consumer joined group {self.group_id} with group_instance_id {self.group_instance_id!r}"
            )

    async def _leave(self, reason: str) -> None:
        member_id = self.member_id
        self.member_id, self.generation, self.rejoin_needed = "", NO_GENERATION, True
        if self.group_instance_id is not None or not member_id:
            return
        try:
            conn = await asyncio.wait_for(self._ensure_coordinator(), self.client.request_timeout_ms / 1000)
            # v0-2 name the member alone, v3+ in a batch: fill both, the codec sends what the version has
            answer = await self._request(
                conn,
                ApiKey.LEAVE_GROUP,
                m.LeaveGroupRequest(
                    group_id=self.group_id,
                    member_id=member_id,
                    members=[m.LeaveGroupRequest.MemberIdentity(member_id=member_id)],
                ),
            )
            code = answer.error_code or next((x.error_code for x in answer.members if x.error_code), 0)
            if code:
                raise BrokerError.for_code(code, f"LeaveGroup for group {self.group_id}")
            log.info("group %s: member %s left (%s)", self.group_id, member_id, reason)
        except (TimeoutError, ClientError, BrokerError) as exc:
            log.info("group %s: LeaveGroup failed (%s); the session timeout will remove the member", self.group_id, exc)

    # ---- offsets --------------------------------------------------------------------

    def positions(self) -> dict[TopicPartition, int]:
        out = {}
        for tp in self.subs.assigned():
            position = self.subs.state(tp).position
            if position is not None:
                out[tp] = position
        return out

    async def _commit_positions_quietly(self, why: str) -> None:
        try:
            await self.commit(self.positions())
        except (ClientError, BrokerError) as exc:
            log.warning("group %s: commit (%s) failed: %s", self.group_id, why, exc)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit `offsets` (the next offset to read per partition); retried while the
        coordinator moves, CommitFailedError if the group rebalanced meanwhile."""
        if not offsets:
            return
        deadline = time.monotonic() + self.client.request_timeout_ms / 1000
        in_group = self.subs.subscribed
        by_topic: dict[str, list[m.OffsetCommitRequest.OffsetCommitRequestPartition]] = {}
        for tp, offset in sorted(offsets.items()):
            by_topic.setdefault(tp.topic, []).append(
                m.OffsetCommitRequest.OffsetCommitRequestPartition(
                    partition_index=tp.partition, committed_offset=offset, committed_metadata=""
                )
            )
        body = m.OffsetCommitRequest(
            group_id=self.group_id,
            generation_id_or_member_epoch=self.generation if in_group else NO_GENERATION,
            member_id=self.member_id if in_group else "",
            group_instance_id=self.group_instance_id,
            topics=[
                m.OffsetCommitRequest.OffsetCommitRequestTopic(name=t, partitions=ps) for t, ps in by_topic.items()
            ],
        )
        while True:
            code, message = await self._commit_once(body)
            if code == ErrorCode.NONE:
                return
            if code in (ErrorCode.REBALANCE_IN_PROGRESS, ErrorCode.FENCED_INSTANCE_ID) or code in _MEMBERSHIP_LOST:
                self.rejoin_needed = True
                if code == ErrorCode.UNKNOWN_MEMBER_ID:
                    self.member_id, self.generation = "", NO_GENERATION
                raise CommitFailedError(
                    f"commit to group {self.group_id} failed: {ErrorCode(code).name}; the "
                    "group rebalanced, the partitions may belong to another member now"
                )
            if code not in RETRIABLE:
                raise BrokerError.for_code(code, message)
            if time.monotonic() >= deadline:
                raise ClientTimeoutError(
                    f"commit to group {self.group_id} did not succeed within "
                    f"{self.client.request_timeout_ms} ms (last error {ErrorCode(code).name})"
                )
            await asyncio.sleep(self.client.retry_backoff)

    async def _commit_once(self, body: m.OffsetCommitRequest) -> tuple[int, str | None]:
        """The first partition error of one OffsetCommit (they share one cause in practice)."""
        try:
            conn = await self._ensure_coordinator()
            answer = await self._request(conn, ApiKey.OFFSET_COMMIT, body)
        except (BrokerConnectionError, ClientTimeoutError) as exc:
            return int(ErrorCode.COORDINATOR_NOT_AVAILABLE), str(exc)
        code = next((p.error_code for t in answer.topics for p in t.partitions if p.error_code), 0)
        if code in _COORDINATOR_GONE:
            self._coordinator_dead()
        return code, None if not code else f"OffsetCommit for group {self.group_id}"

    async def fetch_committed(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        """The group's committed offset per partition (None: never committed)."""
        wanted = sorted(partitions)
        if not wanted:
            return {}
        deadline = time.monotonic() + self.client.request_timeout_ms / 1000
        by_topic: dict[str, list[int]] = {}
        for tp in wanted:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        request = m.OffsetFetchRequest(
            group_id=self.group_id,
            topics=[
                m.OffsetFetchRequest.OffsetFetchRequestTopic(name=t, partition_indexes=ps) for t, ps in by_topic.items()
            ],
        )
        while True:
            message = f"OffsetFetch for group {self.group_id}"
            try:
                conn = await self._ensure_coordinator()
                answer = await self._request(conn, ApiKey.OFFSET_FETCH, request)
                # v2+ carry a request-level error at the top, v1 on every partition
                code = answer.error_code or next(
                    (p.error_code for t in answer.topics for p in t.partitions if p.error_code), 0
                )
            except (BrokerConnectionError, ClientTimeoutError) as exc:
                code, message = int(ErrorCode.COORDINATOR_NOT_AVAILABLE), str(exc)
            if code == ErrorCode.NONE:
                return {
                    TopicPartition(t.name, p.partition_index): (p.committed_offset if p.committed_offset >= 0 else None)
                    for t in answer.topics
                    for p in t.partitions
                }
            if code in _COORDINATOR_GONE:
                self._coordinator_dead()
            if code not in RETRIABLE or time.monotonic() >= deadline:
                raise BrokerError.for_code(code, message)
            await asyncio.sleep(self.client.retry_backoff)
