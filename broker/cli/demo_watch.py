"""The failover demo's eyes: coord watches on the cluster's state, told as sentences.

Persistent watches (ZooKeeper 3.6's addWatch) on `/brokers` (recursive: registrations and
partition state znodes), `/controller` and `/controller_epoch` wake `CoordView`, which
re-reads the changed znode, updates its picture of the cluster and hands each change to
`describe_change`, a pure function that says in words what Kafka's own machinery just did
(an ephemeral registration vanishing, a controller election, a new leader and epoch, the
ISR shrinking or growing). Acts of the demo wait on that picture with `wait_for`. This
module must never write to coord.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from broker.metadata import znodes as Z
from coord.client import CoordClient, WatchedEvent
from coord.protocol.errors import NoNodeError


@dataclass
class ClusterView:
    """What coord says now: registered brokers, controller and epoch, partition states."""

    brokers: set[int] = field(default_factory=set)
    controller: int | None = None
    controller_epoch: int = 0
    states: dict[tuple[str, int], Z.PartitionState] = field(default_factory=dict)


def _ids(ids: tuple[int, ...] | list[int]) -> str:
    return "[" + ",".join(map(str, ids)) + "]"


def describe_broker(broker_id: int, before: bool, after: bool) -> list[str]:
    if before and not after:
        return [
            f"/brokers/ids/{broker_id} vanished: broker {broker_id}'s coord session ended "
            f"(its ephemeral registration goes with it)"
        ]
    if after and not before:
        return [f"broker {broker_id} registered /brokers/ids/{broker_id} (a new coord session)"]
    return []


def describe_controller(before: int | None, after: int | None) -> list[str]:
    if before == after:
        return []
    if after is None:
        return [f"/controller vanished: controller broker {before} is gone; the live brokers race to create it"]
    if before is None:
        return [f"broker {after} won the race and created /controller"]
    return [f"/controller moved from broker {before} to broker {after}"]


def describe_state(
    topic: str, partition: int, before: Z.PartitionState | None, after: Z.PartitionState | None
) -> list[str]:
    """A state znode's change as sentences (leader and epoch first, then the ISR)."""
    tp = f"{topic}-{partition}"
    if after is None or before is None:
        return (
            []
            if after is None
            else [f"{tp}: leader {after.leader}, leader epoch {after.leader_epoch}, ISR {_ids(after.isr)}"]
        )
    out = []
    if after.leader != before.leader:
        if after.leader < 0:
            out.append(f"{tp}: no leader left in the ISR: the partition is offline (leader epoch {after.leader_epoch})")
        else:
            out.append(
                f"{tp}: controller (epoch {after.controller_epoch}) elected broker {after.leader} leader, "
                f"leader epoch {before.leader_epoch} -> {after.leader_epoch}"
            )
    elif after.leader_epoch != before.leader_epoch:
        out.append(
            f"{tp}: leader epoch {before.leader_epoch} -> {after.leader_epoch} (broker {after.leader} leads again)"
        )
    if set(after.isr) < set(before.isr):
        out.append(f"{tp}: ISR shrank {_ids(before.isr)} -> {_ids(after.isr)}")
    elif set(after.isr) > set(before.isr):
        out.append(f"{tp}: ISR grew {_ids(before.isr)} -> {_ids(after.isr)}")
    elif set(after.isr) != set(before.isr):
        out.append(f"{tp}: ISR {_ids(before.isr)} -> {_ids(after.isr)}")
    return out


def parse_state_path(path: str) -> tuple[str, int] | None:
    """(topic, partition) of a `/brokers/topics/<t>/partitions/<p>/state` path, else None."""
    parts = path.split("/")
    if len(parts) == 7 and parts[1:3] == ["brokers", "topics"] and parts[4] == "partitions" and parts[6] == "state":
        try:
            return parts[3], int(parts[5])
        except ValueError:
            return None
    return None


def parse_broker_path(path: str) -> int | None:
    prefix = Z.BROKERS_IDS + "/"
    if path.startswith(prefix) and path[len(prefix) :].isdigit():
        return int(path[len(prefix) :])
    return None


class CoordView:
    """Keeps a ClusterView current from coord watches and narrates every change."""

    def __init__(self, coord_connect: str, say: Callable[[str], None], **coord_options: Any) -> None:
        self.client = CoordClient(coord_connect, session_timeout=15.0, **coord_options)
        self.view = ClusterView()
        self.say = say
        self._paths: asyncio.Queue[str] = asyncio.Queue()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task | None = None

    async def start(self, topics: list[str]) -> None:
        await self.client.start(timeout=15.0)
        for path, recursive in (
            (Z.BROKERS_IDS, True),
            (Z.BROKERS_TOPICS, True),
            (Z.CONTROLLER, False),
            (Z.CONTROLLER_EPOCH, False),
        ):
            await self.client.add_watch(path, self._on_event, recursive=recursive)
        self.view.brokers = {int(i) for i in await self.client.get_children(Z.BROKERS_IDS)}
        self.view.controller = await self._read_controller()
        self.view.controller_epoch = await self._read_epoch()
        for topic in topics:
            for p in await self.client.get_children(Z.partitions_path(topic)):
                state = await self._read_state(topic, int(p))
                if state is not None:  # gone since the listing: as the apply loop does
                    self.view.states[(topic, int(p))] = state
        self._task = asyncio.get_running_loop().create_task(self._apply_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.stop()

    def _on_event(self, event: WatchedEvent) -> None:
        if event.path:
            self._paths.put_nowait(event.path)

    async def _apply_loop(self) -> None:
        while True:
            path = await self._paths.get()
            try:
                lines = await self._apply(path)
            except Exception as exc:  # noqa: BLE001 - a missed read must not end the narration
                lines = [f"(could not read {path}: {exc})"]
            for line in lines:
                self.say(line)
            async with self._changed:
                self._changed.notify_all()

    async def _apply(self, path: str) -> list[str]:
        v = self.view
        broker_id = parse_broker_path(path)
        if broker_id is not None:
            before, now = broker_id in v.brokers, await self.client.exists(path) is not None
            (v.brokers.add if now else v.brokers.discard)(broker_id)
            return describe_broker(broker_id, before, now)
        if path == Z.CONTROLLER:
            before_c, v.controller = v.controller, await self._read_controller()
            return describe_controller(before_c, v.controller)
        if path == Z.CONTROLLER_EPOCH:
            before_e, v.controller_epoch = v.controller_epoch, await self._read_epoch()
            return (
                []
                if before_e == v.controller_epoch
                else [
                    f"controller epoch {before_e} -> {v.controller_epoch}: broker {v.controller} is the controller; "
                    f"requests from an older epoch are refused (a zombie controller is fenced)"
                ]
            )
        tp = parse_state_path(path)
        if tp is not None:
            before_s, after_s = v.states.get(tp), await self._read_state(*tp)
            if after_s is None:
                v.states.pop(tp, None)
            else:
                v.states[tp] = after_s
            return describe_state(tp[0], tp[1], before_s, after_s)
        return []

    async def _read_controller(self) -> int | None:
        try:
            data, _ = await self.client.get(Z.CONTROLLER)
        except NoNodeError:
            return None
        return Z.decode_controller(data) if data else None

    async def _read_epoch(self) -> int:
        try:
            data, _ = await self.client.get(Z.CONTROLLER_EPOCH)
        except NoNodeError:
            return 0
        return int(data or b"0")

    async def _read_state(self, topic: str, partition: int) -> Z.PartitionState | None:
        try:
            data, stat = await self.client.get(Z.state_path(topic, partition))
        except NoNodeError:
            return None
        return Z.decode_state(data, stat.version) if data else None

    async def wait_for(self, predicate: Callable[[ClusterView], bool], timeout: float) -> bool:
        """True once `predicate(view)` holds, False if `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not predicate(self.view):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                try:
                    await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
                except TimeoutError:
                    pass
        return True
