"""The topic config compression.type on append: re-encode a produced batch in the topic's codec.

`producer` (the default) keeps each batch as the producer compressed it; `uncompressed`,
`gzip`, `snappy`, `lz4` and `zstd` make the leader store every batch in that codec, as
Kafka's LogValidator does. Only the records section changes: the batch keeps its header
fields (offset deltas, timestamps, producer id, epoch and base sequence, so idempotence
and deduplication see the same batch), its other attribute bits, and gets a new CRC. Run
after the validator (the producer's batch must be sound) and before the append; followers
copy the leader's bytes. This module must never append or change anything but the codec.
"""

from __future__ import annotations

from client.protocol.compression import Compression, compress
from client.protocol.record_batch import COMPRESSION_MASK, iter_batches, pack_batch, records_bytes

Buffer = bytes | bytearray | memoryview

CODECS = {
    "uncompressed": Compression.NONE,
    "gzip": Compression.GZIP,
    "snappy": Compression.SNAPPY,
    "lz4": Compression.LZ4,
    "zstd": Compression.ZSTD,
}


def target_codec(topic_configs: dict[str, str]) -> Compression | None:
    """The codec the topic stores batches in; None: as the producer sent them."""
    return CODECS.get(topic_configs.get("compression.type", "producer"))


def recompress(records: Buffer, codec: Compression, limit: int | None = None) -> Buffer:
    """`records` (whole batches back to back) with every batch in `codec`; the input itself
    when every batch already is. `limit` bounds each batch's decompressed size."""
    if all(h.compression == codec for h in iter_batches(records)):
        return records
    out, pos = [], 0
    for h in iter_batches(records):
        if h.compression == codec:
            out.append(bytes(memoryview(records)[pos : pos + h.size]))
        else:
            out.append(
                pack_batch(
                    bytes(compress(codec, records_bytes(records, pos, h, limit))),
                    base_offset=h.base_offset,
                    last_offset_delta=h.last_offset_delta,
                    record_count=h.record_count,
                    attributes=(h.attributes & ~COMPRESSION_MASK) | int(codec),
                    base_timestamp=h.base_timestamp,
                    max_timestamp=h.max_timestamp,
                    producer_id=h.producer_id,
                    producer_epoch=h.producer_epoch,
                    base_sequence=h.base_sequence,
                    partition_leader_epoch=h.partition_leader_epoch,
                )
            )
        pos += h.size
    return b"".join(out)
