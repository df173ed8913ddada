"""Kafka's v2 records: the bytes of a record batch after its 61-byte header.

Before compression the records lie back to back, each one:

    length          varint   bytes of the record after this field
    attributes      int8     unused (0)
    timestampDelta  varlong  from the batch's base timestamp
    offsetDelta     varint   from the batch's base offset
    keyLength       varint   -1 for a null key
    key             bytes
    valueLength     varint   -1 for a null value
    value           bytes
    headerCount     varint
    headers         each: keyLength varint, key (UTF-8, never null),
                          valueLength varint (-1 for null), value

Varints are zigzag-encoded base-128, least significant group first (protobuf's
sint32/sint64).

Speed is the point of this module's shape: at a million records a second every
bytecode per record shows. Varints below 4096 come from a table of ready bytes; a
record is encoded as a few table lookups and one tuple of pieces, joined once per
batch; the decoder reads one-byte varints from a table of 128 values and two-byte ones from a
table of 16,384 (10% faster than the arithmetic), and calls a function only for longer
ones and for headers. It must never look at the batch header or the crc
(record_batch.py does) and never compress (compression.py does).

The compiled twin: where pip found a C compiler it built client/protocol/_records_c.c,
the same three functions with the same results and errors at several times the speed;
this module exports those when the extension imports, unless PYBROKER_PURE_PYTHON=1.
The pure functions stay reachable as pure_encode_records, pure_decode_records and
pure_check_records (the tests run the two codecs against each other), and CODEC says
which one is in use ("c" or "python").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from client.compiled import compiled
from client.protocol.batch_errors import InvalidRecordError

Headers = list[tuple[str, bytes | None]]


class Record(NamedTuple):
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Headers


# (key, value, headers, timestamp_ms): what a producer hands to build_batch
RecordInput = tuple[bytes | None, bytes | None, "Sequence[tuple[str, bytes | None]] | None", int]

_TABLE = 1 << 12
_NULL = b"\x01"  # zigzag varint of -1
_ZERO = b"\x00"  # attributes 0, and a header count of 0
_new = tuple.__new__


def zigzag_varint(n: int) -> bytes:
    """`n` (a signed 64-bit int) as a zigzag varint."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


_VARINT = [zigzag_varint(n) for n in range(_TABLE)]
_ONE_BYTE = [(b >> 1) ^ -(b & 1) for b in range(0x80)]  # a one-byte zigzag varint's value
# a two-byte zigzag varint's value, at index first << 7 | second (first >= 0x80, second < 0x80;
# the entries below 0x4000 are never read)
_TWO_BYTES = [0] * 0x4000 + [(z >> 1) ^ -(z & 1) for z in (i >> 7 | (i & 0x7F) << 7 for i in range(0x4000))]


def _varint(n: int) -> bytes:
    return _VARINT[n] if 0 <= n < _TABLE else zigzag_varint(n)


def _encode_headers(headers: Sequence[tuple[str, bytes | None]]) -> bytes:
    parts = [_varint(len(headers))]
    for key, value in headers:
        raw = key.encode()
        parts += (_varint(len(raw)), raw)
        parts += (_NULL,) if value is None else (_varint(len(value)), value)
    return b"".join(parts)


def encode_records(
    records: Sequence[RecordInput], base_timestamp: int, offset_deltas: Sequence[int] | None = None
) -> bytes:
    """The records, timestamps relative to `base_timestamp`, offset deltas 0..n-1 unless
    given (compaction keeps each surviving record's offset)."""
    table, varint = _VARINT, zigzag_varint
    parts: list[bytes] = []
    extend = parts.extend
    numbered = enumerate(records) if offset_deltas is None else zip(offset_deltas, records, strict=False)
    for delta, (key, value, headers, ts) in numbered:
        ts -= base_timestamp
        tsv = table[ts] if 0 <= ts < _TABLE else varint(ts)
        odv = table[delta] if 0 <= delta < _TABLE else varint(delta)
        size = 1 + len(tsv) + len(odv)
        if key is None:
            kv, key = _NULL, b""
            size += 1
        else:
            n = len(key)
            kv = table[n] if n < _TABLE else varint(n)
            size += n + len(kv)
        if value is None:
            vv, value = _NULL, b""
            size += 1
        else:
            n = len(value)
            vv = table[n] if n < _TABLE else varint(n)
            size += n + len(vv)
        hv = _encode_headers(headers) if headers else _ZERO
        size += len(hv)
        extend((table[size] if size < _TABLE else varint(size), _ZERO, tsv, odv, kv, key, vv, value, hv))
    return b"".join(parts)


def _read_varint(data: bytes, p: int) -> tuple[int, int]:
    """The zigzag varint at `p` and the position after it (any length up to 10 bytes)."""
    z = shift = 0
    while True:
        b = data[p]
        p += 1
        z |= (b & 0x7F) << shift
        if b < 0x80:
            return (z >> 1) ^ -(z & 1), p
        shift += 7
        if shift > 63:
            raise InvalidRecordError(f"a varint at byte {p - 10} of the records is longer than 10 bytes")


def _read_headers(data: bytes, p: int) -> tuple[Headers, int]:
    count, p = _read_varint(data, p)
    if count < 0:
        raise InvalidRecordError(f"a record claims {count} headers")
    headers: Headers = []
    for _ in range(count):
        n, p = _read_varint(data, p)
        if n < 0:
            raise InvalidRecordError(f"a header key has negative length {n} (header keys are never null)")
        try:
            key = data[p : p + n].decode()
        except UnicodeDecodeError as exc:
            raise InvalidRecordError(f"a header key is not UTF-8: {exc}") from None
        p += n
        n, p = _read_varint(data, p)
        if n < 0:
            headers.append((key, None))
        else:
            headers.append((key, data[p : p + n]))
            p += n
    return headers, p


def decode_records(
    data: bytes,
    count: int,
    base_offset: int,
    base_timestamp: int,
    cls: type[tuple[Any, ...]] = Record,
    head: tuple[Any, ...] = (),
) -> list[Any]:
    """`count` records from `data` (all of it), with absolute offsets and timestamps, each
    a `cls` named tuple of `head` + (offset, timestamp, key, value, headers): a consumer
    passes its ConsumerRecord and (topic, partition), and gets its records in one pass.

    Raises InvalidRecordError when the bytes are not exactly `count` well-formed records:
    fewer, more, or one whose fields do not add up to its length.
    """
    one, two, read, new = _ONE_BYTE, _TWO_BYTES, _read_varint, _new
    out: list[Any] = []
    headers: Headers
    append = out.append
    p = 0
    try:
        for _ in range(count):
            # Each varint: one byte inline, two bytes inline, longer through _read_varint.
            b = data[p]
            if b < 0x80:
                n, p = one[b], p + 1
            elif (c := data[p + 1]) < 0x80:
                n, p = two[b << 7 | c], p + 2
            else:
                n, p = read(data, p)
            end = p + n
            b = data[p + 1]  # after the attributes byte
            if b < 0x80:
                td, p = one[b], p + 2
            elif (c := data[p + 2]) < 0x80:
                td, p = two[b << 7 | c], p + 3
            else:
                td, p = read(data, p + 1)
            b = data[p]
            if b < 0x80:
                od, p = one[b], p + 1
            elif (c := data[p + 1]) < 0x80:
                od, p = two[b << 7 | c], p + 2
            else:
                od, p = read(data, p)
            b = data[p]
            if b < 0x80:
                n, p = one[b], p + 1
            elif (c := data[p + 1]) < 0x80:
                n, p = two[b << 7 | c], p + 2
            else:
                n, p = read(data, p)
            if n < 0:
                key = None
            else:
                key, p = data[p : p + n], p + n
            b = data[p]
            if b < 0x80:
                n, p = one[b], p + 1
            elif (c := data[p + 1]) < 0x80:
                n, p = two[b << 7 | c], p + 2
            else:
                n, p = read(data, p)
            if n < 0:
                value = None
            else:
                value, p = data[p : p + n], p + n
            if data[p] == 0:
                headers, p = [], p + 1
            else:
                headers, p = _read_headers(data, p)
            if p != end:
                raise InvalidRecordError(
                    f"record {len(out)}'s fields end at byte {p} of the records, not at byte {end} as its length says"
                )
            append(new(cls, head + (base_offset + od, base_timestamp + td, key, value, headers)))
    except IndexError:
        raise InvalidRecordError(f"the records end inside record {len(out)} of {count} ({len(data)} bytes)") from None
    if p != len(data):
        raise InvalidRecordError(f"{len(data) - p} bytes remain after the {count} records the batch claims")
    return out


def check_records(data: bytes, count: int, keys_required: bool) -> int | None:
    """Check, without building anything, that `data` is exactly `count` well-formed records
    with offset deltas 0..count-1 in order (and a key on each if `keys_required`); return
    the largest timestamp delta (None for no records). The leader's validator runs this on every produced
    batch: it is decode_records' loop without the slices and tuples, 1.6x faster.
    """
    one, two, read = _ONE_BYTE, _TWO_BYTES, _read_varint
    top: int | None = None
    p = i = 0
    try:
        for i in range(count):
            b = data[p]
            if b < 0x80:
                n, p = one[b], p + 1
            elif (c := data[p + 1]) < 0x80:
                n, p = two[b << 7 | c], p + 2
            else:
                n, p = read(data, p)
            end = p + n
            b = data[p + 1]  # after the attributes byte
            if b < 0x80:
                td, p = one[b], p + 2
            elif (c := data[p + 2]) < 0x80:
                td, p = two[b << 7 | c], p + 3
            else:
                td, p = read(data, p + 1)
            if top is None or td > top:
                top = td
            b = data[p]
            if b < 0x80:
                od, p = one[b], p + 1
            elif (c := data[p + 1]) < 0x80:
                od, p = two[b << 7 | c], p + 2
            else:
                od, p = read(data, p)
            if od != i:
                raise InvalidRecordError(
                    f"record {i} of the batch has offset delta {od}, not {i}: deltas must run 0..{count - 1} in order"
                )
            b = data[p]
            if b < 0x80:
                n, p = one[b], p + 1
            elif (c := data[p + 1]) < 0x80:
                n, p = two[b << 7 | c], p + 2
            else:
                n, p = read(data, p)
            if n >= 0:
                p += n
            elif keys_required:
                raise InvalidRecordError(
                    f"a compacted topic cannot accept a record without a key (record {i} of the batch has none)"
                )
            b = data[p]
            if b < 0x80:
                n, p = one[b], p + 1
            elif (c := data[p + 1]) < 0x80:
                n, p = two[b << 7 | c], p + 2
            else:
                n, p = read(data, p)
            if n > 0:
                p += n
            p = p + 1 if data[p] == 0 else _read_headers(data, p)[1]
            if p != end:
                raise InvalidRecordError(
                    f"record {i}'s fields end at byte {p} of the records, not at byte {end} as its length says"
                )
    except IndexError:
        raise InvalidRecordError(f"the records end inside record {i} of {count} ({len(data)} bytes)") from None
    if p != len(data):
        raise InvalidRecordError(f"{len(data) - p} bytes remain after the {count} records the batch claims")
    return top


pure_encode_records, pure_decode_records, pure_check_records = encode_records, decode_records, check_records
CODEC = "python"


if (_c := compiled("client.protocol._records_c")) is not None:
    _c.init(InvalidRecordError, Record)
    encode_records, decode_records, check_records = _c.encode_records, _c.decode_records, _c.check_records
    CODEC = "c"
