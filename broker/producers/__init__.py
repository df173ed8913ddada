"""The idempotent producer on the broker: per-partition producer state (dedupe, gap and
fencing checks), its snapshot, and producer id blocks."""

from broker.producers.id_block import ProducerIdAllocator, ProducerIdBlock, next_block
from broker.producers.snapshot import Anchor, Snapshot, load_snapshot, snapshot
from broker.producers.state import Append, Duplicate, ErrorCode, ProducerStateTable, Reject

__all__ = [
    "Anchor",
    "Append",
    "Duplicate",
    "ErrorCode",
    "ProducerIdAllocator",
    "ProducerIdBlock",
    "ProducerStateTable",
    "Reject",
    "Snapshot",
    "load_snapshot",
    "next_block",
    "snapshot",
]
