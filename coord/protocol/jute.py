"""Jute primitive encoding (ZooKeeper's record serialisation): int, long, boolean,
buffer, ustring and vectors, all big-endian.

`@jute(...)` turns a NamedTuple into a record with encode/decode (see records.py).

Null and empty are different on the wire (length -1 vs 0) and users can see the
difference, so `None` is kept as `None` in both directions. Any short or malformed input
must surface as `MarshallingError`, never as IndexError / struct.error / UnicodeError,
so a server can answer MARSHALLINGERROR instead of crashing.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, TypeVar

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

    def write_vector(self, items: list[Any] | None, write_item: Callable[[JuteWriter, Any], None]) -> None:
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
            raise MarshallingError(f"{what}: need {n} bytes at offset {start}, only {len(self.data) - start} left")
        self.pos = start + n
        return start

    def read_int(self) -> int:
        value: int = _INT.unpack_from(self.data, self._take(4, "int"))[0]
        return value

    def read_long(self) -> int:
        value: int = _LONG.unpack_from(self.data, self._take(8, "long"))[0]
        return value

    def read_bool(self) -> bool:
        return self.data[self._take(1, "boolean")] != 0

    def read_buffer(self) -> bytes | None:
        n = self.read_int()
        if n == -1:
            return None
        if n < 0:
            raise MarshallingError(f"buffer length {n} is negative")
        start = self._take(n, "buffer")
        return self.data[start : start + n]

    def read_ustring(self) -> str | None:
        raw = self.read_buffer()
        if raw is None:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MarshallingError(f"ustring is not valid UTF-8: {e}") from e

    def read_vector(self, read_item: Callable[[JuteReader], Any]) -> list[Any] | None:
        n = self.read_int()
        if n == -1:
            return None
        if n < 0:
            raise MarshallingError(f"vector count {n} is negative")
        if n > self.remaining():
            raise MarshallingError(f"vector count {n} exceeds the {self.remaining()} bytes left")
        return [read_item(self) for _ in range(n)]

    def read_struct(self, st: struct.Struct, what: str) -> tuple[Any, ...]:
        return st.unpack_from(self.data, self._take(st.size, what))


# -- declaring records: `@jute(types...)` on a NamedTuple ---------------------------------

_Writer = Callable[[JuteWriter, Any], None]
_Reader = Callable[[JuteReader], Any]

_PRIMITIVES: dict[str, tuple[_Writer, _Reader, str | None]] = {
    "int": (JuteWriter.write_int, JuteReader.read_int, "i"),
    "long": (JuteWriter.write_long, JuteReader.read_long, "q"),
    "bool": (JuteWriter.write_bool, JuteReader.read_bool, "?"),
    "buffer": (JuteWriter.write_buffer, JuteReader.read_buffer, None),
    "ustring": (JuteWriter.write_ustring, JuteReader.read_ustring, None),
}


class vector:
    """Jute type `vector<item>` in a `@jute(...)` declaration."""

    def __init__(self, item: Any) -> None:
        self.item = item


def _field_codec(jtype: Any) -> tuple[_Writer, _Reader]:
    if isinstance(jtype, str):
        write, read, _ = _PRIMITIVES[jtype]
        return write, read
    if isinstance(jtype, vector):
        write_item, read_item = _field_codec(jtype.item)
        return (lambda w, v: w.write_vector(v, write_item)), (lambda r: r.read_vector(read_item))
    return (lambda w, v: v.encode(w)), jtype.decode  # a nested record


_Record = TypeVar("_Record")


def jute(*types: Any, optional_bool_tail: bool = False) -> Callable[[type[_Record]], type[_Record]]:
    """Attach the jute codec for the fields of a NamedTuple, `types` in field order.

    `optional_bool_tail`: the last field is a boolean that is not part of the jute record
    and may be absent (ConnectRequest/Response's readOnly byte); None means absent."""

    def attach(record: type[_Record]) -> type[_Record]:
        cls: Any = record  # a NamedTuple class, given methods mypy cannot see: typed as Any here
        fields = cls._fields
        want = len(fields) - (1 if optional_bool_tail else 0)
        if len(types) != want:
            raise TypeError(f"{cls.__name__}: {want} fields but {len(types)} jute types")
        codes = [_PRIMITIVES[t][2] if isinstance(t, str) else None for t in types]
        fixed = [code for code in codes if code is not None]
        if types and len(fixed) == len(codes) and not optional_bool_tail:
            _attach_struct(cls, struct.Struct(">" + "".join(fixed)))
        else:
            _attach_generic(cls, [_field_codec(t) for t in types], optional_bool_tail)
        with_bytes_methods(cls)
        cls.JUTE_TYPES = types
        return record

    return attach


def _attach_struct(cls: Any, st: struct.Struct) -> None:
    name = cls.__name__

    def encode(self: Any, w: JuteWriter) -> None:
        try:
            w.write_raw(st.pack(*self))
        except struct.error as e:
            raise MarshallingError(f"{name}: {e}") from e

    def decode(kls: Any, r: JuteReader) -> Any:
        return kls._make(r.read_struct(st, name))

    cls.encode = encode
    cls.decode = classmethod(decode)


def _attach_generic(cls: Any, codecs: list[tuple[_Writer, _Reader]], tail: bool) -> None:
    writers = [c[0] for c in codecs]
    readers = [c[1] for c in codecs]

    def encode(self: Any, w: JuteWriter) -> None:
        for write, value in zip(writers, self, strict=False):
            write(w, value)
        if tail and self[-1] is not None:
            w.write_bool(self[-1])

    def decode(kls: Any, r: JuteReader) -> Any:
        values = [read(r) for read in readers]
        if tail:
            values.append(r.read_bool() if r.remaining() else None)
        return kls._make(values)

    cls.encode = encode
    cls.decode = classmethod(decode)


def with_bytes_methods(cls: Any) -> Any:
    """Give a record class with encode/decode `to_bytes()` and `from_bytes(data)`."""
    cls.to_bytes = _to_bytes
    cls.from_bytes = classmethod(_from_bytes)
    return cls


def _to_bytes(self: Any) -> bytes:
    w = JuteWriter()
    self.encode(w)
    return w.getvalue()


def _from_bytes(cls: Any, data: bytes) -> Any:
    return cls.decode(JuteReader(data))
