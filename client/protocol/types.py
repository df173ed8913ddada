"""Kafka's primitive wire types: fixed-width integers, unsigned varints, strings, bytes.

The generated message codecs (`client.protocol.messages`) inline the fixed-width cases with
precompiled `struct` objects; this module holds what needs a loop or a branch: unsigned varints
(compact lengths, tagged fields) and the nullable and compact forms of strings and bytes. Readers
take `(buf, pos)` and return `(value, new_pos)`; writers append to a bytearray. A reader meeting a
length that runs past the buffer raises DecodeError, never returns a short value. This module
must never know a message's fields.
"""

from __future__ import annotations

import struct

I8 = struct.Struct(">b")
I16 = struct.Struct(">h")
I32 = struct.Struct(">i")
I64 = struct.Struct(">q")
U16 = struct.Struct(">H")
U32 = struct.Struct(">I")
F64 = struct.Struct(">d")


class DecodeError(ValueError):
    """The bytes are not a valid encoding of the message asked for."""


def write_uvarint(out: bytearray, value: int) -> None:
    if value < 0:
        raise ValueError(f"an unsigned varint cannot hold {value}")
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def read_uvarint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("the buffer ends inside a varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError("a varint longer than 10 bytes")


def _take(buf: bytes | memoryview, pos: int, size: int, what: str) -> int:
    end = pos + size
    if end > len(buf):
        raise DecodeError(f"{what} of {size} bytes runs past the end of the buffer ({len(buf) - pos} left)")
    return end


# Strings -------------------------------------------------------------------------------------


def read_string(buf: bytes | memoryview, pos: int) -> tuple[str | None, int]:
    (size,) = I16.unpack_from(buf, pos)
    pos += 2
    if size < 0:
        if size != -1:
            raise DecodeError(f"string length {size}")
        return None, pos
    end = _take(buf, pos, size, "a string")
    return str(buf[pos:end], "utf-8"), end


def read_compact_string(buf: bytes | memoryview, pos: int) -> tuple[str | None, int]:
    size, pos = read_uvarint(buf, pos)
    if size == 0:
        return None, pos
    end = _take(buf, pos, size - 1, "a compact string")
    return str(buf[pos:end], "utf-8"), end


def write_string(out: bytearray, value: str | None) -> None:
    if value is None:
        out += b"\xff\xff"
        return
    data = value.encode()
    if len(data) > 0x7FFF:
        raise ValueError(f"a string of {len(data)} bytes does not fit an int16 length")
    out += I16.pack(len(data))
    out += data


def write_compact_string(out: bytearray, value: str | None) -> None:
    if value is None:
        out.append(0)
        return
    data = value.encode()
    write_uvarint(out, len(data) + 1)
    out += data


# Bytes (and records, which are bytes holding whole record batches) ---------------------------


def read_bytes(buf: bytes | memoryview, pos: int) -> tuple[memoryview | None, int]:
    (size,) = I32.unpack_from(buf, pos)
    pos += 4
    if size < 0:
        if size != -1:
            raise DecodeError(f"bytes length {size}")
        return None, pos
    end = _take(buf, pos, size, "a bytes field")
    return memoryview(buf)[pos:end], end


def read_compact_bytes(buf: bytes | memoryview, pos: int) -> tuple[memoryview | None, int]:
    size, pos = read_uvarint(buf, pos)
    if size == 0:
        return None, pos
    end = _take(buf, pos, size - 1, "a compact bytes field")
    return memoryview(buf)[pos:end], end


def write_bytes_len(out: bytearray, size: int | None) -> None:
    out += I32.pack(-1 if size is None else size)


def write_compact_bytes_len(out: bytearray, size: int | None) -> None:
    write_uvarint(out, 0 if size is None else size + 1)


# Arrays --------------------------------------------------------------------------------------


def read_array_len(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """-1 for a null array."""
    (count,) = I32.unpack_from(buf, pos)
    if count < -1:
        raise DecodeError(f"array length {count}")
    return count, pos + 4


def read_compact_array_len(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    count, pos = read_uvarint(buf, pos)
    return count - 1, pos


def check_count(buf: bytes | memoryview, pos: int, count: int) -> None:
    """Refuse an element count no buffer of this size could hold (each element takes >= 1 byte),
    so a hostile count cannot make the decoder allocate or loop past the frame."""
    if count > len(buf) - pos:
        raise DecodeError(f"array of {count} elements in {len(buf) - pos} remaining bytes")


def skip_tagged(buf: bytes | memoryview, pos: int) -> int:
    """Step over a tagged-field section whose tags we do not know."""
    count, pos = read_uvarint(buf, pos)
    for _ in range(count):
        _, pos = read_uvarint(buf, pos)
        size, pos = read_uvarint(buf, pos)
        pos = _take(buf, pos, size, "a tagged field")
    return pos
