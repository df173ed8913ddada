"""Small builders shared by the storage tests: batches of known content, decoding slices."""

from __future__ import annotations

from client.protocol.record_batch import build_batch, decode_batch, iter_batches


def make_batch(count: int, timestamp: int, tag: int = 0, value_size: int = 20) -> bytes:
    """`count` records whose values name their batch (`tag`) and position."""
    return build_batch(
        [(b"k%d" % i, (b"%d-%d-" % (tag, i)).ljust(value_size, b"x"), None, timestamp) for i in range(count)]
    )


def batches_in(data: bytes) -> list[tuple[int, int, list[bytes]]]:
    """(base offset, last offset, values) of every whole batch in `data`; crc checked."""
    out, pos = [], 0
    for header in iter_batches(data):
        values = [r.value for r in decode_batch(data, pos)]
        out.append((header.base_offset, header.last_offset, values))
        pos += header.size
    assert pos == len(data), "a read must hold whole batches only"
    return out
