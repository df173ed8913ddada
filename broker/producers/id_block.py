"""Producer ids handed out in blocks through `/latest_producer_id_block` (Kafka's layout).

The znode holds the last block any broker claimed, as Kafka writes it:
    {"version":1,"broker":2,"block_start":"1000","block_end":"1999"}
(block_start/block_end are decimal strings in Kafka; plain numbers are accepted too).
A broker claims the next block by writing `next_block(...)`'s bytes with a conditional
setData on the version it read (create if the node is absent); on BADVERSION it reads
again and retries, so two brokers never claim the same block. Within its block a broker
allocates locally with `ProducerIdAllocator`. Pure: the znode read and write are the
shell's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

BLOCK_SIZE = 1000
ZNODE = "/latest_producer_id_block"
INT64_MAX = 2**63 - 1


class ProducerIdsExhaustedError(RuntimeError):
    """No block of producer ids is left below 2**63."""


@dataclass(frozen=True)
class ProducerIdBlock:
    broker: int
    block_start: int
    block_end: int  # inclusive, as in Kafka

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "version": 1,
                "broker": self.broker,
                "block_start": str(self.block_start),
                "block_end": str(self.block_end),
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ProducerIdBlock:
        try:
            doc = json.loads(data)
            if doc.get("version") != 1:
                raise ValueError(f"unknown version {doc.get('version')!r}")
            return cls(int(doc["broker"]), int(doc["block_start"]), int(doc["block_end"]))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{ZNODE} holds {data!r}, not a producer id block: {e}") from None


def next_block(current: bytes | None, broker: int, block_size: int = BLOCK_SIZE) -> ProducerIdBlock:
    """The block after the one in the znode (`current` None or empty: the node is absent)."""
    start = 0 if not current else ProducerIdBlock.from_json(current).block_end + 1
    if start > INT64_MAX - block_size:
        raise ProducerIdsExhaustedError(f"no producer id block of {block_size} is left after {start - 1}")
    return ProducerIdBlock(broker, start, start + block_size - 1)


class ProducerIdAllocator:
    """Hands out ids from the claimed block; `allocate` returns None when a new block is needed."""

    def __init__(self) -> None:
        self.block: ProducerIdBlock | None = None
        self.next_id = 0

    def use(self, block: ProducerIdBlock) -> None:
        self.block, self.next_id = block, block.block_start

    def allocate(self) -> int | None:
        if self.block is None or self.next_id > self.block.block_end:
            return None
        pid = self.next_id
        self.next_id += 1
        return pid
