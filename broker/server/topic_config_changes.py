"""Topic config changes: announced through coord, applied by every broker to its own logs.

AlterConfigs writes a topic's configs to /config/topics/<topic> (where CreateTopics put
them) and then a sequential change notification under /config/changes, as Kafka's
ZooKeeper mode does (`{"version":2,"entity_path":"topics/<topic>"}`). Every broker
watches /config/changes; for each new notification it re-reads the topic (its metadata
cache, which DescribeConfigs and the controller read) and gives each of its partition
logs of that topic the new settings (retention, segment size and age, max message size,
flush, cleanup policy; min.insync.replicas for acks=all), which the log honours from its
next append or retention pass. A "brokers/<id>" or "brokers/<default>" notification (dynamic
broker configs) reloads this broker's settings and re-applies every local log's, whose
defaults they are. Notifications older than CHANGE_TTL_MS are deleted by
whichever broker sees them (Kafka keeps them 15 minutes). After a new coord session
(watches are gone) every local log's settings are re-applied. This module must never
decide what a valid config is (the AlterConfigs handler does) and never write topic configs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from typing import Any

from broker.config import BrokerConfig
from broker.metadata.change_notifications import purge_old
from broker.metadata.store import MetadataStore
from broker.replication.leader import LeaderState
from broker.server.log_manager import log_config_for
from broker.server.replica_manager import ReplicaManager
from coord.protocol.errors import NoNodeError

log = logging.getLogger(__name__)

CHANGES = "/config/changes"
PREFIX = f"{CHANGES}/config_change_"
CHANGE_TTL_MS = 15 * 60 * 1000


async def announce_topic_change(coord: Any, topic: str) -> None:
    """Tell every broker that `topic`'s configs changed."""
    payload = json.dumps({"version": 2, "entity_path": f"topics/{topic}"}, separators=(",", ":")).encode()
    await coord.create(PREFIX, payload, sequence=True, makepath=True)


def _changed_entity(data: bytes) -> tuple[str, str] | None:
    """(kind, name) of the entity a notification names ("topics", "brokers", ...); None for junk."""
    try:
        kind, _, name = str(json.loads(data)["entity_path"]).partition("/")
    except (KeyError, ValueError, TypeError, UnicodeDecodeError):
        log.warning("ignoring an unreadable config change notification: %r", data[:100])
        return None
    return (kind, name) if name else None


class TopicConfigChanges:
    def __init__(
        self,
        coord: Any,
        store: MetadataStore,
        replicas: ReplicaManager,
        config: BrokerConfig,
        change_ttl_ms: int = CHANGE_TTL_MS,
        dynamic: Any = None,
    ) -> None:
        """`dynamic`: the broker's DynamicBrokerConfig, reloaded on a "brokers/..." notification
        for this broker or the cluster default (None: broker notifications are ignored)."""
        self.coord = coord
        self.dynamic = dynamic
        self.store = store
        self.replicas = replicas
        self.config = config
        self.change_ttl_ms = change_ttl_ms
        self._seen: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._closed = False

    async def start(self) -> None:
        """Watch the notifications; re-apply every local log's settings from the cache (which
        the store has just re-read), catching changes made while no watch was armed."""
        self._seen = set(await self.coord.get_children(CHANGES, watch=self._on_change))
        if self.dynamic is not None:
            await self.dynamic.reload()
        self.apply_all()

    def apply_all(self) -> None:
        """Re-apply every local log's settings (after its defaults, the broker's config, changed)."""
        for topic in sorted({t for t, _ in self.replicas.partitions}):
            self.apply(topic)

    def apply(self, topic: str) -> None:
        """Give this broker's partitions of `topic` the configs the metadata cache holds."""
        meta = self.store.cache.topic(topic)
        if meta is None:
            return
        try:  # AlterConfigs checks what it writes; a node written by other tools may still be wrong
            settings = log_config_for(self.config, meta.configs)
            min_isr = int(meta.configs.get("min.insync.replicas", self.config.min_insync_replicas))
        except ValueError as exc:
            log.error(
                "topic %s: configs %s cannot be applied (%s); its logs keep their settings", topic, meta.configs, exc
            )
            return
        for (t, _), part in list(self.replicas.partitions.items()):
            if t != topic:
                continue
            old = part.log.config
            part.log.config = dataclasses.replace(
                settings, index_interval_bytes=old.index_interval_bytes, max_index_entries=old.max_index_entries
            )
            part.replica.min_insync_replicas = min_isr
            if isinstance(part.replica.role, LeaderState):  # the leader's acks=all check reads its own
                part.replica.role.min_insync_replicas = min_isr

    def _on_change(self, event: Any) -> None:
        if self._closed:
            return
        task = asyncio.get_running_loop().create_task(self._follow())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow(self) -> None:
        """Re-arm the watch; re-read and apply the topic of every new notification."""
        try:
            children = set(await self.coord.get_children(CHANGES, watch=self._on_change))
            for child in sorted(children - self._seen):
                try:
                    data, _ = await self.coord.get(f"{CHANGES}/{child}")
                except NoNodeError:
                    continue
                kind, name = _changed_entity(data or b"") or ("", "")
                if kind == "topics" and await self.store.refresh_topic(name) is not None:
                    self.apply(name)
                    log.info("topic %s: configs now %s", name, self.store.cache.topics[name].configs)
                elif kind == "brokers" and self.dynamic is not None and name in ("<default>", self.dynamic.entity):
                    await self.dynamic.reload()  # which re-applies every local log's settings if need be
            self._seen = children
            await purge_old(self.coord, CHANGES, children, self.change_ttl_ms)
        except Exception as exc:  # noqa: BLE001 - coord away: start() re-applies everything after a rejoin
            log.warning("following topic config changes failed: %s", exc)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
