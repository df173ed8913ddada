"""Producer ids for InitProducerId: claimed from coord in blocks, handed out one by one.

The block bookkeeping is pure (`broker.producers.id_block`); this is its asyncio shell.
A block is claimed with a conditional write of `/latest_producer_id_block` on the
version just read (a create when the node is absent), so two brokers racing for the
next block never both get it: the loser reads again and takes the one after. Ids are
then allocated in memory until the block runs out. Ids of a block a broker never used
up are lost at its restart, as in Kafka. This module must never answer requests.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from broker.producers.id_block import ZNODE, ProducerIdAllocator, ProducerIdBlock, next_block
from coord.protocol.errors import BadVersionError, NodeExistsError, NoNodeError

log = logging.getLogger(__name__)

CLAIM_ATTEMPTS = 20


class ProducerIdBlockContendedError(RuntimeError):
    """Other brokers kept claiming blocks first; the caller may simply ask again."""


async def claim_block(coord: Any, broker_id: int) -> ProducerIdBlock:
    """The next free block, written to coord as ours (Kafka's ZkProducerIdManager)."""
    for _ in range(CLAIM_ATTEMPTS):
        try:
            data, stat = await coord.get(ZNODE)
        except NoNodeError:
            data, stat = None, None
        block = next_block(data, broker_id)
        try:
            if stat is None:
                await coord.create(ZNODE, block.to_json())
            else:
                await coord.set(ZNODE, block.to_json(), version=stat.version)
        except (BadVersionError, NodeExistsError):
            continue  # another broker claimed a block between our read and write
        log.info("broker %d claimed producer ids %d-%d", broker_id, block.block_start, block.block_end)
        return block
    raise ProducerIdBlockContendedError(f"{ZNODE} changed under us {CLAIM_ATTEMPTS} times in a row")


class ProducerIdManager:
    """This broker's current block; `next_id` claims a new one when it runs out."""

    def __init__(self) -> None:
        self.allocator = ProducerIdAllocator()
        self._claiming = asyncio.Lock()

    async def next_id(self, coord: Any, broker_id: int) -> int:
        pid = self.allocator.allocate()
        while pid is None:
            async with self._claiming:  # one claim at a time; the others then allocate from it
                pid = self.allocator.allocate()
                if pid is None:
                    self.allocator.use(await claim_block(coord, broker_id))
                    pid = self.allocator.allocate()
        return pid
