"""Producer state to bytes and back (the rebuild from the log's batch headers is
`broker.server.idempotence.PartitionProducers.record`, which reads the log).

Snapshot layout: 4-byte big-endian CRC-32C of the body, then the msgpack body
[version 1, offset, [[producer_id, epoch, [[first_seq, last_seq, first_offset,
last_offset], ...], last_timestamp], ...], anchor], where `offset` is the log offset the state covers
(every batch below it) and `anchor` is [base_offset, crc] of the batch that ended just
below `offset` when the snapshot was taken (nil if none). A reader checks the anchor
against the log: a log that was truncated and written again below `offset` (a replica
that followed another leader) no longer holds that batch, and the snapshot is refused.
Recovery = load the latest snapshot at or below the log end whose anchor holds, then
replay the batches at or after its offset. A snapshot whose CRC fails is refused
(rebuild from an earlier one or from the log start instead). No file I/O here.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import NamedTuple

import crc32c
import msgpack

from broker.producers.state import BATCHES_KEPT, BatchMetadata, ProducerEntry, ProducerStateTable

VERSION = 1
_CRC = struct.Struct(">I")


class SnapshotCorruptError(ValueError):
    """The snapshot bytes are damaged or of an unknown version: do not trust them."""


class Anchor(NamedTuple):
    """The batch that ended just below a snapshot's offset: (base offset, its crc)."""

    base_offset: int
    crc: int


class Snapshot(NamedTuple):
    table: ProducerStateTable
    offset: int
    anchor: Anchor | None


def snapshot(table: ProducerStateTable, offset: int, anchor: Anchor | None = None) -> bytes:
    body = msgpack.packb(
        [
            VERSION,
            offset,
            [
                [
                    e.producer_id,
                    e.epoch,
                    [[b.first_seq, b.last_seq, b.first_offset, b.last_offset] for b in e.batches],
                    e.last_timestamp,
                ]
                for e in table.entries.values()
            ],
            list(anchor) if anchor is not None else None,
        ]
    )
    return _CRC.pack(crc32c.crc32c(body)) + body


def load_snapshot(data: bytes) -> Snapshot:
    """The table, the offset it covers, and the anchor to check against the log."""
    if len(data) < _CRC.size or _CRC.unpack_from(data)[0] != crc32c.crc32c(data[_CRC.size :]):
        raise SnapshotCorruptError("producer state snapshot fails its crc")
    try:
        version, offset, entries, anchor = msgpack.unpackb(data[_CRC.size :])
        if version != VERSION:
            raise SnapshotCorruptError(f"producer state snapshot version {version} is unknown")
        table = ProducerStateTable()
        for pid, epoch, batches, last_timestamp in entries:
            table.entries[pid] = ProducerEntry(
                pid, epoch, deque((BatchMetadata(*b) for b in batches), maxlen=BATCHES_KEPT), last_timestamp
            )
        return Snapshot(table, offset, Anchor(*anchor) if anchor is not None else None)
    except (ValueError, TypeError, msgpack.ExtraData) as e:
        if isinstance(e, SnapshotCorruptError):
            raise
        raise SnapshotCorruptError(f"producer state snapshot does not decode: {e}") from None
