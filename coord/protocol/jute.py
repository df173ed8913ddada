"""Jute primitive encoding (ZooKeeper's record serialisation): int, long, boolean,
buffer, ustring and vectors, all big-endian.

Null and empty are different on the wire (length -1 vs 0) and users can see the
difference, so `None` is kept as `None` in both directions. Any short or malformed input
must surface as `MarshallingError`, never as IndexError / struct.error / UnicodeError,
so a server can answer MARSHALLINGERROR instead of crashing.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

_INT = struct.Struct(">i")
_LONG = struct.Struct(">q")


class MarshallingError(ValueError):
    """Bytes that are not a valid encoding of the record expected (or a value that
    cannot be encoded, such as an int outside 32 bits)."""


class JuteWriter:
    """Appends jute-encoded values to a growing buffer; `getvalue()` gives the bytes."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()

    def getvalue(self) -> bytes:
        return bytes(self.buf)

    def write_int(self, value: int) -> None:
        try:
            self.buf += _INT.pack(value)
        except struct.error as e:
            raise MarshallingError(f"int {value!r} does not fit in 32 bits") from e

    def write_long(self, value: int) -> None:
        try:
            self.buf += _LONG.pack(value)
        except struct.error as e:
            raise MarshallingError(f"long {value!r} does not fit in 64 bits") from e

    def write_bool(self, value: bool) -> None:
        self.buf.append(1 if value else 0)

    def write_buffer(self, value: bytes | None) -> None:
        if value is None:
            self.buf += b"\xff\xff\xff\xff"
            return
        self.buf += _INT.pack(len(value))
        self.buf += value

    def write_ustring(self, value: str | None) -> None:
        self.write_buffer(None if value is None else value.encode("utf-8"))

    def write_vector(self, items: list | None, write_item: Callable[[JuteWriter, Any], None]) -> None:
        if items is None:
            self.buf += b"\xff\xff\xff\xff"
            return
        self.buf += _INT.pack(len(items))
        for item in items:
            write_item(self, item)

    def write_raw(self, data: bytes) -> None:
        self.buf += data


class JuteReader:
    """Reads jute values from one frame's payload, front to back."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self.data = bytes(data)
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def _take(self, n: int, what: str) -> int:
        start = self.pos
        if n > len(self.data) - start:
            raise MarshallingError(f"{what}: need {n} bytes at offset {start}, "
                                   f"only {len(self.data) - start} left")
        self.pos = start + n
        return start

    def read_int(self) -> int:
        return _INT.unpack_from(self.data, self._take(4, "int"))[0]

    def read_long(self) -> int:
        return _LONG.unpack_from(self.data, self._take(8, "long"))[0]

    def read_bool(self) -> bool:
        return self.data[self._take(1, "boolean")] != 0

    def read_buffer(self) -> bytes | None:
        n = self.read_int()
        if n == -1:
            return None
        if n < 0:
            raise MarshallingError(f"buffer length {n} is negative")
        start = self._take(n, "buffer")
        return self.data[start:start + n]

    def read_ustring(self) -> str | None:
        raw = self.read_buffer()
        if raw is None:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MarshallingError(f"ustring is not valid UTF-8: {e}") from e

    def read_vector(self, read_item: Callable[[JuteReader], Any]) -> list | None:
        n = self.read_int()
        if n == -1:
            return None
        if n < 0:
            raise MarshallingError(f"vector count {n} is negative")
        if n > self.remaining():
            raise MarshallingError(f"vector count {n} exceeds the {self.remaining()} bytes left")
        return [read_item(self) for _ in range(n)]

    def read_rest(self) -> bytes:
        start = self.pos
        self.pos = len(self.data)
        return self.data[start:]

    def read_struct(self, st: struct.Struct, what: str) -> tuple:
        return st.unpack_from(self.data, self._take(st.size, what))
