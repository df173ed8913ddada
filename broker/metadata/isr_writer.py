"""A partition leader's ISR changes, written to the partition-state znode conditionally.

The replication core proposes an ISR (`ProposeIsr`: new ISR, its leader epoch, the state
version it last saw); this writer turns that into `setData(state, version=expected)`
and answers the core with exactly one `IsrChangeResult`:

- the write succeeded: accepted, with the new version;
- BadVersion: the znode is re-read; if it already holds this leader, epoch and ISR (our
  own earlier attempt landed before a lost reply) that is a success, else refused (the
  controller moved on; its next LeaderAndIsr brings the truth);
- connection loss or a coord failover: retried every `retry_s` until it gets an answer
  or the broker stops, because the core proposes nothing else until then.

The controller and every broker notice the change through their watch on the state
znode, so Metadata answers follow. It must never decide an ISR itself.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from broker.metadata import znodes as Z
from broker.metadata.cache import MetadataCache
from broker.replication.messages import IsrChangeResult, ProposeIsr
from coord.protocol.errors import BadVersionError, CoordError, NoNodeError

log = logging.getLogger(__name__)


class IsrOwner(Protocol):
    """The partition whose leader proposed the change (broker.server.partition.Partition)."""

    topic: str
    partition: int
    controller_epoch: int

    def step(self, event: Any) -> Any: ...


class IsrWriter:
    def __init__(self, coord: Any, cache: MetadataCache, broker_id: int, *, retry_s: float = 0.5) -> None:
        self.coord = coord
        self.cache = cache
        self.broker_id = broker_id
        self.retry_s = retry_s
        self._tasks: set[asyncio.Task] = set()

    def propose(self, part: IsrOwner, proposal: ProposeIsr) -> None:
        task = asyncio.get_running_loop().create_task(self._write(part, proposal))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, part: IsrOwner, proposal: ProposeIsr) -> None:
        state = Z.PartitionState(
            self.broker_id, proposal.leader_epoch, tuple(sorted(proposal.isr)), part.controller_epoch
        )
        path = Z.state_path(part.topic, part.partition)
        while True:
            try:
                result = await self._attempt(path, state, proposal)
                break
            except CoordError as exc:
                log.warning("%s-%d: ISR write failed (%s); retrying", part.topic, part.partition, exc)
                await asyncio.sleep(self.retry_s)
        if result.accepted:
            self.cache.set_state(
                part.topic,
                part.partition,
                Z.PartitionState(
                    state.leader, state.leader_epoch, state.isr, state.controller_epoch, result.partition_version
                ),
            )
            log.info(
                "%s-%d: ISR is now %s (leader epoch %d)",
                part.topic,
                part.partition,
                list(state.isr),
                state.leader_epoch,
            )
        else:
            log.info(
                "%s-%d: ISR change to %s refused: the partition state moved on (controller)",
                part.topic,
                part.partition,
                list(state.isr),
            )
        part.step(result)

    async def _attempt(self, path: str, state: Z.PartitionState, proposal: ProposeIsr) -> IsrChangeResult:
        try:
            stat = await self.coord.set(path, Z.encode_state(state), version=proposal.expected_version)
            return IsrChangeResult(proposal, True, stat.version)
        except NoNodeError:
            return IsrChangeResult(proposal, False, -1)
        except BadVersionError:
            pass
        try:
            data, stat = await self.coord.get(path)
        except NoNodeError:
            return IsrChangeResult(proposal, False, -1)
        stored = Z.decode_state(data, stat.version)
        same = (stored.leader, stored.leader_epoch, set(stored.isr)) == (
            state.leader,
            state.leader_epoch,
            set(state.isr),
        )
        return IsrChangeResult(proposal, same, stat.version)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
