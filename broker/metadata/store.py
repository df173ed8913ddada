"""Cluster metadata in coord: registration, cluster id, and a cache kept current by watches.

The broker's view of brokers, topics, assignments and partition states lives in coord
(Kafka's layout, `znodes.py`); this store reads it into a `MetadataCache` and re-reads
the parts a watch says changed (broker set, topic set, a topic's partition states), so
a broker serves Metadata and routes Produce/Fetch without asking coord per request.
It must never decide leadership (that is the controller's job) and never block a
request on coord.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from broker.metadata import znodes as Z
from broker.metadata.cache import MetadataCache, TopicMetadata
from coord.protocol.errors import NodeExistsError, NoNodeError

log = logging.getLogger(__name__)


class MetadataListener(Protocol):
    """Told, right after the cache took it, each thing the store read (the controller
    turns these into its core's events)."""

    def brokers_read(self) -> None: ...

    def topic_read(self, name: str, topic: TopicMetadata | None) -> None: ...

    def state_read(self, topic: str, partition: int, state: Z.PartitionState) -> None: ...


class MetadataStore:
    def __init__(self, coord: Any, cache: MetadataCache, me: Z.BrokerInfo) -> None:
        self.coord = coord
        self.cache = cache
        self.me = me
        self._tasks: set[asyncio.Task] = set()
        self._closed = False
        self._armed: set[str] = set()  # paths with a one-shot watch pending: never stack a second
        self.listener: MetadataListener | None = None  # the controller, once it is built

    # -- startup ----------------------------------------------------------------------

    async def ensure_paths(self) -> None:
        for path in Z.PERSISTENT_PATHS:
            try:
                await self.coord.create(path, b"", makepath=True)
            except NodeExistsError:
                pass

    async def ensure_cluster_id(self) -> str:
        """Read /cluster/id, creating it if this is the first broker of the cluster."""
        try:
            await self.coord.create(Z.CLUSTER_ID, Z.encode_cluster_id(Z.new_cluster_id()), makepath=True)
        except NodeExistsError:
            pass
        data, _ = await self.coord.get(Z.CLUSTER_ID)
        self.cache.cluster_id = Z.decode_cluster_id(data)
        return self.cache.cluster_id

    async def register(self) -> int:
        """Create the ephemeral /brokers/ids/<id>; returns its czxid, this registration's
        broker epoch (KIP-380: orders carry it, so one meant for an earlier run is refused).

        A node left by a previous incarnation of this broker (killed before its session
        expired) advertises the host:port we have just bound, so its process is gone:
        we replace it. A node advertising anything else is another live broker with our
        id, a configuration error we refuse.
        """
        path = Z.broker_path(self.me.broker_id)
        data = Z.encode_broker(self.me, int(time.time() * 1000))
        for _ in range(3):
            try:
                await self.coord.create(path, data, ephemeral=True, makepath=True)
                _, stat = await self.coord.get(path)
                return stat.czxid
            except NodeExistsError:
                pass
            try:
                old_data, stat = await self.coord.get(path)
            except NoNodeError:
                continue
            old = Z.decode_broker(self.me.broker_id, old_data)
            if Z.all_endpoints(old) != Z.all_endpoints(self.me):
                raise RuntimeError(
                    f"broker id {self.me.broker_id} is already registered by a live broker at "
                    f"{old.host}:{old.port}; give this broker another --id"
                )
            log.info("replacing the registration left by a previous run of broker %d", self.me.broker_id)
            try:
                await self.coord.delete(path, version=stat.version)
            except NoNodeError:
                pass
        raise RuntimeError(f"could not register broker {self.me.broker_id} at {path}")

    async def announce_log_dir_failure(self) -> str:
        """Tell the controller one of our log directories failed (Kafka's log-dir event
        notification: a persistent sequential node it watches and deletes once handled)."""
        return await self.coord.create(
            Z.log_dir_event_path(), Z.encode_log_dir_event(self.me.broker_id), sequence=True, makepath=True
        )

    # -- reading into the cache -------------------------------------------------------

    async def load_all(self) -> None:
        """Read everything and arm every watch (at start, and on a new session: the old
        session's watches are gone)."""
        self._armed.clear()
        await self.refresh_brokers()
        await self.refresh_topics()

    async def refresh_brokers(self) -> None:
        ids = await self.coord.get_children(Z.BROKERS_IDS, watch=self._arm(Z.BROKERS_IDS, self._on_brokers_changed))
        brokers, epochs = {}, {}
        for child in ids:
            try:
                data, stat = await self.coord.get(Z.broker_path(int(child)))
            except NoNodeError:
                continue
            brokers[int(child)] = Z.decode_broker(int(child), data)
            epochs[int(child)] = stat.czxid
        self.cache.set_brokers(brokers, epochs)
        if self.listener is not None:
            self.listener.brokers_read()

    async def refresh_topics(self, *, full: bool = True) -> None:
        """Re-read the topic set; every topic's data (`full`), or only new topics' (a topic
        watch firing: the known ones are kept current by their state watches)."""
        names = set(
            await self.coord.get_children(Z.BROKERS_TOPICS, watch=self._arm(Z.BROKERS_TOPICS, self._on_topics_changed))
        )
        for gone in set(self.cache.topics) - names:
            self.cache.remove_topic(gone)
            if self.listener is not None:
                self.listener.topic_read(gone, None)
        for name in sorted(names if full else names - set(self.cache.topics)):
            await self.refresh_topic(name)

    async def refresh_topic(self, name: str) -> TopicMetadata | None:
        """Re-read one topic's assignment, configs and partition states."""
        try:
            data, _ = await self.coord.get(Z.topic_path(name))
        except NoNodeError:
            self.cache.remove_topic(name)
            if self.listener is not None:
                self.listener.topic_read(name, None)
            return None
        topic = TopicMetadata(
            name, Z.decode_assignment(name, data), topic_id=Z.topic_id_bytes(Z.decode_topic_id(name, data))
        )
        try:
            cdata, _ = await self.coord.get(Z.topic_config_path(name))
            topic.configs = Z.decode_topic_config(cdata)
        except NoNodeError:
            pass
        # All states requested at once: the coord connection pipelines them (a topic of
        # thousands of partitions is read in a few round trips' time, not thousands).
        paths = [Z.state_path(name, p) for p in topic.assignment]
        answers = await asyncio.gather(
            *(self.coord.get(path, watch=self._arm(path, self._on_state_changed)) for path in paths),
            return_exceptions=True,
        )
        for partition, path, answer in zip(topic.assignment, paths, answers, strict=True):
            if isinstance(answer, NoNodeError):
                self._armed.discard(path)  # no node, so no data watch was left there
                continue
            if isinstance(answer, BaseException):
                raise answer
            sdata, stat = answer
            topic.states[partition] = Z.decode_state(sdata, stat.version, stat.mzxid)
        self.cache.set_topic(topic)
        if self.listener is not None:
            self.listener.topic_read(name, topic)
        return topic

    # -- watches: one-shot, so each handler re-reads and re-arms ------------------------

    def _arm(self, path: str, callback: Any) -> Any:
        """`callback` if no watch is pending on `path`, else None (it would fire twice)."""
        if path in self._armed:
            return None
        self._armed.add(path)
        return callback

    def _spawn(self, coro: Any) -> None:
        if self._closed:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("metadata refresh failed: %s", task.exception())

    def _on_brokers_changed(self, event: Any) -> None:
        self._armed.discard(Z.BROKERS_IDS)
        self._spawn(self.refresh_brokers())

    def _on_topics_changed(self, event: Any) -> None:
        self._armed.discard(Z.BROKERS_TOPICS)
        self._spawn(self.refresh_topics(full=False))

    def _on_state_changed(self, event: Any) -> None:
        path = getattr(event, "path", "") or ""
        self._armed.discard(path)
        parts = path.split("/")  # ['', 'brokers', 'topics', t, 'partitions', p, 'state']
        if len(parts) == 7 and parts[5].isdigit():
            self._spawn(self.refresh_state(parts[3], int(parts[5])))

    async def refresh_state(self, topic: str, partition: int) -> None:
        """Re-read one partition's state (a failover changes thousands: never re-read the
        whole topic per change)."""
        path = Z.state_path(topic, partition)
        try:
            data, stat = await self.coord.get(path, watch=self._arm(path, self._on_state_changed))
        except NoNodeError:
            self._armed.discard(path)
            return
        state = Z.decode_state(data, stat.version, stat.mzxid)
        self.cache.set_state(topic, partition, state)
        if self.listener is not None:
            self.listener.state_read(topic, partition, state)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
