"""Replica fetchers: one asyncio task per leader this broker follows, carrying out the
requests of the replication cores that follow it.

A following partition's core asks for what it needs as `SendEpochQuery` / `SendFetch`
actions (`Partition.take_request`); the task takes them all, sends the epoch queries as
one OffsetsForLeaderEpoch request, else the fetches as one Fetch with `replica_id` = this
broker (a long poll: the leader answers when it has data or after
`replica.fetch.wait.max.ms`), as Kafka's ReplicaFetcherThread batches per leader. Answers
go back into each core, which appends, truncates, learns the high watermark and asks for
the next thing. Before each round the task ticks its partitions' cores, which resend
whatever went unanswered (a lost connection, a refusal, a partition the leader left out),
the same retry the simulator exercises. A partition that changes leader simply shows up
in another task's next round. Connection trouble is retried after
`replica.fetch.backoff.ms`.

The requests are Kafka's (Fetch v12 with replica_id and our cluster id, OffsetForLeaderEpoch
v4 with replica_id and current_leader_epoch). Kafka's answers do not repeat the leader's
epoch: the leader checked ours (current_leader_epoch) and answers NONE or
OFFSET_OUT_OF_RANGE only at that epoch, so that is the epoch the core is told; with any
other error the core ignores the answer anyway. It must never decide what to ask, truncate
or append, nor send a request no core asked for.
"""

from __future__ import annotations

import asyncio
import logging

from broker.config import BrokerConfig
from broker.metadata.cache import MetadataCache
from broker.metadata.controller_requests import VERSIONS
from broker.replication.messages import (
    UNDEFINED_EPOCH,
    EpochAnswer,
    EpochQuery,
    ErrorCode,
    FetchRequest,
    FetchResponse,
    SendEpochQuery,
    SendFetch,
)
from broker.server.partition import FOLLOWER_RETRY_MS, Partition
from broker.server.replica_log import split_batches
from broker.server.replica_manager import ReplicaManager
from client.conn import BrokerConnection
from client.errors import ClientError
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.record_batch import CorruptBatchError

log = logging.getLogger(__name__)

_CORE_CODES = {int(c) for c in ErrorCode}
REFUSED_BACKOFF_S = 0.1  # a leader that has not heard of its new epoch yet, or a moved partition


def _core_code(code: int) -> ErrorCode | None:
    """The wire error as the core knows it; None for shell refusals (unknown partition...)."""
    return ErrorCode(code) if code in _CORE_CODES else None


class FetcherManager:
    def __init__(self, config: BrokerConfig, cache: MetadataCache, replicas: ReplicaManager) -> None:
        self.config = config
        self.cache = cache
        self.replicas = replicas
        self.fetchers: dict[int, _Fetcher] = {}
        # Closing is a flag as well as a cancel: asyncio.wait_for (3.11) can swallow a cancel
        # that arrives as its inner await completes, and a fetcher must still end.
        self.closed = False

    def sync(self) -> None:
        """Start a fetcher for every leader some partition follows; wake them all (the
        replica manager calls this whenever what it follows changes)."""
        if self.closed:
            return
        for leader in self.replicas.followed_leaders():
            if leader not in self.fetchers and leader != self.config.broker_id:
                self.fetchers[leader] = _Fetcher(self, leader)
        for fetcher in self.fetchers.values():
            fetcher.wake.set()

    async def close(self) -> None:
        self.closed = True
        for fetcher in self.fetchers.values():
            fetcher.task.cancel()
        await asyncio.gather(*(f.task for f in self.fetchers.values()), return_exceptions=True)
        for fetcher in self.fetchers.values():
            fetcher.disconnect()
        self.fetchers.clear()


class _Fetcher:
    def __init__(self, manager: FetcherManager, leader: int) -> None:
        self.manager = manager
        self.config = manager.config
        self.leader = leader
        self.wake = asyncio.Event()
        self.conn: BrokerConnection | None = None
        # Taken from the cores, not sent yet (fetches wait while epoch queries go first).
        self.pending: dict[Partition, SendFetch | SendEpochQuery] = {}
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"replica-fetcher-{leader}")

    def disconnect(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _collect(self, parts: list[Partition]) -> None:
        """Tick each core (it resends an overdue request) and take what it asks for; the
        newest request of a partition replaces one still pending."""
        following = set(parts)
        self.pending = {p: r for p, r in self.pending.items() if p in following}
        for part in parts:
            part.tick()
            request = part.take_request(self.leader)
            if request is not None:
                self.pending[part] = request

    async def _run(self) -> None:
        backoff = self.config.replica_fetch_backoff_ms / 1000
        while not self.manager.closed:
            self.wake.clear()
            parts = self.manager.replicas.following(self.leader)
            self._collect(parts)
            if not self.pending:
                try:
                    await asyncio.wait_for(self.wake.wait(), FOLLOWER_RETRY_MS / 1000 if parts else 5)
                except TimeoutError:
                    pass
                continue
            queries = [(p, r.query) for p, r in self.pending.items() if isinstance(r, SendEpochQuery)]
            fetches = [(p, r.request) for p, r in self.pending.items() if isinstance(r, SendFetch)]
            for part, _ in queries or fetches:
                del self.pending[part]
            try:
                conn = await self._connection()
                if queries:
                    await self._ask_epochs(conn, queries)
                else:
                    await self._fetch(conn, fetches)
            except (ClientError, ConnectionError, OSError) as exc:
                log.info("fetching from broker %d failed (%s); retrying in %.1fs", self.leader, exc, backoff)
                self.disconnect()
                await asyncio.sleep(backoff)
            except Exception:  # a bug must not silently stop replication from this leader
                log.exception("replica fetcher for broker %d failed; retrying in %.1fs", self.leader, backoff)
                self.disconnect()
                await asyncio.sleep(backoff)

    async def _connection(self) -> BrokerConnection:
        if self.conn is not None and self.conn.connected:
            return self.conn
        info = self.manager.cache.brokers.get(self.leader)
        if info is None:
            raise ConnectionError(f"broker {self.leader} is not registered")
        self.conn = await self.manager.cache.inter_broker.open(
            info,
            client_id=f"replica-fetcher-{self.config.broker_id}",
            request_timeout_ms=self.config.replica_socket_timeout_ms + self.config.replica_fetch_wait_max_ms,
        )
        return self.conn

    async def _ask_epochs(self, conn: BrokerConnection, queries: list[tuple[Partition, EpochQuery]]) -> None:
        Q = m.OffsetForLeaderEpochRequest
        topics: dict[str, list[m.OffsetForLeaderEpochRequest.OffsetForLeaderPartition]] = {}
        for p, q in queries:
            topics.setdefault(p.topic, []).append(
                Q.OffsetForLeaderPartition(
                    partition=p.partition, current_leader_epoch=q.leader_epoch, leader_epoch=q.epoch
                )
            )
        body = Q(
            replica_id=self.config.broker_id,
            topics=[Q.OffsetForLeaderTopic(topic=t, partitions=ps) for t, ps in topics.items()],
        )
        response = await conn.request(
            ApiKey.OFFSETS_FOR_LEADER_EPOCH, body, api_version=VERSIONS[ApiKey.OFFSETS_FOR_LEADER_EPOCH]
        )
        answers = {(t.topic, a.partition): a for t in response.topics for a in t.partitions}
        refused = False
        for part, q in queries:
            a = answers.get((part.topic, part.partition))
            code = _core_code(a.error_code) if a is not None else None
            if a is None or code is None:
                refused = True
                continue
            part.step(EpochAnswer(q.leader_epoch, a.leader_epoch, a.end_offset, code))
        if refused:
            await asyncio.sleep(REFUSED_BACKOFF_S)

    async def _fetch(self, conn: BrokerConnection, requests: list[tuple[Partition, FetchRequest]]) -> None:
        F = m.FetchRequest
        wanted: dict[tuple[str, int], tuple[Partition, FetchRequest]] = {}
        topics: dict[str, list[m.FetchRequest.FetchPartition]] = {}
        for part, req in requests:
            wanted[(part.topic, part.partition)] = (part, req)
            topics.setdefault(part.topic, []).append(
                F.FetchPartition(
                    partition=part.partition,
                    current_leader_epoch=req.leader_epoch,
                    fetch_offset=req.fetch_offset,
                    partition_max_bytes=self.config.replica_fetch_max_bytes,
                )
            )
        body = F(
            replica_id=self.config.broker_id,
            cluster_id=self.manager.cache.cluster_id,
            max_wait_ms=self.config.replica_fetch_wait_max_ms,
            min_bytes=1,
            topics=[F.FetchTopic(topic=t, partitions=ps) for t, ps in topics.items()],
        )
        response = await conn.request(ApiKey.FETCH, body, api_version=VERSIONS[ApiKey.FETCH])
        if response.error_code:
            await asyncio.sleep(REFUSED_BACKOFF_S)
            return
        refused = False
        for topic in response.responses:
            for entry in topic.partitions:
                found = wanted.get((topic.topic, entry.partition_index))
                code = _core_code(entry.error_code)
                if found is None or code is None:
                    refused = True
                    continue
                part, req = found
                try:
                    batches = tuple(split_batches(entry.records)) if entry.records is not None else ()
                except CorruptBatchError as exc:
                    log.warning("%s: corrupt data from leader %d (%s); fetching again", part, self.leader, exc)
                    refused = True
                    continue
                # The core drops an answer to a request it no longer has (its role or log end
                # changed while the fetch was out).
                epoch = req.leader_epoch if code in (ErrorCode.NONE, ErrorCode.OFFSET_OUT_OF_RANGE) else UNDEFINED_EPOCH
                part.step(FetchResponse(epoch, req.fetch_offset, batches, entry.high_watermark, code))  # type: ignore[arg-type]  # offsets and epoch: what the core reads of a batch
                if code not in (ErrorCode.NONE, ErrorCode.OFFSET_OUT_OF_RANGE):
                    refused = True
        if refused:
            await asyncio.sleep(REFUSED_BACKOFF_S)
