"""Typed Kafka request and response classes, generated at import from `client.protocol.schema`.

Each struct of a schema becomes a class with one slot per field (Kafka's field name in snake case)
and keyword-only construction with the schema's defaults. Encoders and decoders are generated as
Python source per (struct, version) the first time that version is used, so a request costs the
straight-line code a hand-written codec would, not a walk over field descriptors. Rules the
generated code follows, as Kafka's own:
- a field the version lacks is not written, and reads back as its default;
- flexible versions use compact lengths and end every struct with a tagged-field section; tags we
  do not know are skipped, tagged fields equal to their default are not sent;
- `records` fields read as a memoryview into the frame; on encode they may also hold a file slice
  (any object with an integer `length`), which `encode_parts` hands back in place for sendfile.
Decoding never trusts a length or count past the end of the buffer (DecodeError). This module
must never do I/O or know what a field means.
"""

from __future__ import annotations

import importlib
import pkgutil
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from client.protocol import schema as schema_pkg
from client.protocol import types as t
from client.protocol.schema import FieldSpec, StructSpec, Versions, is_default_missing
from client.protocol.types import DecodeError

__all__ = ["API_BY_KEY", "DATA", "ApiSpec", "DecodeError", "Message"]

_FIXED = {
    "int8": "b",
    "int16": "h",
    "int32": "i",
    "int64": "q",
    "uint16": "H",
    "uint32": "I",
    "float64": "d",
    "uuid": "16s",
}
_ZERO = {
    "int8": 0,
    "int16": 0,
    "int32": 0,
    "int64": 0,
    "uint16": 0,
    "uint32": 0,
    "float64": 0.0,
    "bool": False,
    "uuid": bytes(16),
    "string": "",
    "bytes": b"",
    "records": None,
}


class Writer:
    """Where generated encoders write: a buffer, cut into parts around file slices."""

    __slots__ = ("buf", "parts")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.parts: list[Any] = []

    def split(self, piece: Any) -> None:
        self.parts.append(bytes(self.buf))
        self.buf.clear()
        self.parts.append(piece)

    def finish(self) -> list[Any]:
        if self.buf or not self.parts:
            self.parts.append(bytes(self.buf))
        return self.parts


class Message:
    """Base of every generated struct class: value equality, a readable repr, version-aware codec."""

    __slots__: tuple[str, ...] = ()
    _spec: StructSpec
    _flexible: Versions | None
    _versions: Versions
    _enc: dict[int, Callable[[Any, Writer], None]]
    _dec: dict[int, Callable[[Any, int], tuple[Any, int]]]
    _nested: dict[str, type[Message]]  # on top-level classes: their nested struct classes by name

    if TYPE_CHECKING:  # the generated classes' fields, as type checkers can know them: by name, of any type

        def __init__(self, **fields: Any) -> None: ...

        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__qualname__}({inner})"

    def encode(self, version: int) -> bytes:
        """The body at `version`; refuses a file slice (use encode_parts)."""
        parts = self.encode_parts(version)
        if len(parts) != 1:
            raise TypeError("this message holds file slices: use encode_parts()")
        body: bytes = parts[0]
        return body

    def encode_parts(self, version: int) -> list[Any]:
        """The body as bytes pieces, with every file slice in its place."""
        writer = Writer()
        _encoder(type(self), version)(self, writer)
        return writer.finish()

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview, version: int, *, pos: int = 0) -> Any:
        """The message at `data[pos:]`, which must be used to the last byte."""
        buf = data if isinstance(data, (bytes, memoryview)) else bytes(data)
        try:
            message, end = _decoder(cls, version)(buf, pos)
        except (struct.error, IndexError, UnicodeDecodeError, RecursionError) as exc:
            raise DecodeError(f"{cls.__qualname__} v{version} does not decode: {exc}") from None
        if end != len(buf):
            raise DecodeError(f"{len(buf) - end} stray bytes after {cls.__qualname__} v{version}")
        return message

    @classmethod
    def decode_prefix(cls, data: bytes | memoryview, version: int, pos: int = 0) -> tuple[Any, int]:
        """The message at `data[pos:]` and where it ends (for a struct followed by more bytes)."""
        try:
            return _decoder(cls, version)(data, pos)
        except (struct.error, IndexError, UnicodeDecodeError, RecursionError) as exc:
            raise DecodeError(f"{cls.__qualname__} v{version} does not decode: {exc}") from None


# Class generation ----------------------------------------------------------------------------


def _default_expr(spec: FieldSpec, names: dict[str, Any]) -> tuple[str, bool]:
    """Source for a field's default, and whether it must be built fresh per instance."""
    if not is_default_missing(spec.default):
        return repr(spec.default), False
    if spec.array:
        return "[]", True
    if spec.struct is not None and spec.nullable is not None:
        return "None", False
    if spec.struct is not None:
        return f"_S_{spec.struct.name}()", True
    return repr(_ZERO[spec.type]), False


def _make_class(
    struct_spec: StructSpec,
    classes: dict[str, type[Message]],
    versions: Versions,
    flexible: Versions | None,
    qualname: str,
) -> type[Message]:
    cls = cast(
        type[Message], type(struct_spec.name, (Message,), {"__slots__": tuple(f.name for f in struct_spec.fields)})
    )
    cls.__qualname__ = qualname
    cls.__module__ = __name__
    cls._spec, cls._versions, cls._flexible = struct_spec, versions, flexible
    cls._enc, cls._dec = {}, {}
    namespace: dict[str, Any] = {"_M": _MISSING}
    for spec in struct_spec.fields:
        if spec.struct is not None:
            namespace[f"_S_{spec.struct.name}"] = classes[spec.struct.name]
    params, body = [], []
    for spec in struct_spec.fields:
        expr, fresh = _default_expr(spec, namespace)
        if fresh:
            params.append(f"{spec.name}=_M")
            body.append(f"    self.{spec.name} = {expr} if {spec.name} is _M else {spec.name}")
        else:
            params.append(f"{spec.name}={expr}")
            body.append(f"    self.{spec.name} = {spec.name}")
    src = f"def __init__(self, *, {', '.join(params)}):\n" + ("\n".join(body) or "    pass") + "\n"
    if not params:
        src = "def __init__(self):\n    pass\n"
    exec(src, namespace)  # our own generated source from our own schema
    setattr(cls, "__init__", namespace["__init__"])  # noqa: B010 - mypy refuses assigning to __init__
    return cls


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<default>"


_MISSING = _Missing()


def _build(spec: StructSpec, versions: Versions, flexible: Versions | None) -> type[Message]:
    """The top-level class for `spec`, with every nested struct class attached to it by name."""
    order: list[StructSpec] = []

    def visit(struct_spec: StructSpec) -> None:
        for f in struct_spec.fields:
            if f.struct is not None and f.struct not in order:
                visit(f.struct)
                order.append(f.struct)

    visit(spec)
    classes: dict[str, type[Message]] = {}
    for nested in order:
        classes[nested.name] = _make_class(nested, classes, versions, flexible, f"{spec.name}.{nested.name}")
    top = _make_class(spec, classes, versions, flexible, spec.name)
    for name, cls in classes.items():
        setattr(top, name, cls)
    top._nested = classes
    return top


# Code generation for one (struct, version) --------------------------------------------------


class _Gen:
    """Writes the source of an encoder or decoder; one instance per generated function."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.env: dict[str, Any] = {"t": t, "struct": struct, "DecodeError": DecodeError}
        self.counter = 0

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def const(self, value: Any, prefix: str = "_c") -> str:
        key = self.name(prefix)
        self.env[key] = value
        return key


def _encoder(cls: type[Message], version: int) -> Callable[[Any, Writer], None]:
    fn = cls._enc.get(version)
    if fn is None:
        if version not in cls._versions:
            raise ValueError(
                f"{cls.__qualname__} has no version {version} (known: {cls._versions.low}-{cls._versions.high})"
            )
        fn = cls._enc[version] = _gen_encoder(cls, version)
    return fn


def _decoder(cls: type[Message], version: int) -> Callable[[Any, int], tuple[Any, int]]:
    fn = cls._dec.get(version)
    if fn is None:
        if version not in cls._versions:
            raise DecodeError(
                f"{cls.__qualname__} has no version {version} (known: {cls._versions.low}-{cls._versions.high})"
            )
        fn = cls._dec[version] = _gen_decoder(cls, version)
    return fn


def _present(spec: FieldSpec, version: int) -> bool:
    return version in spec.versions


def _enc_value(
    g: _Gen,
    ind: int,
    spec: FieldSpec,
    expr: str,
    version: int,
    flex: bool,
    nested: dict[str, type[Message]],
    array_elem: bool = False,
) -> None:
    """Emit code writing `expr` (a value of spec's element type when array_elem) to `b`."""
    kind = spec.type
    nullable = spec.nullable_in(version)
    if spec.array and not array_elem:
        var = g.name("a")
        g.emit(ind, f"{var} = {expr}")
        g.emit(ind, f"if {var} is None:")
        if not nullable:
            g.emit(ind + 1, f"raise ValueError({spec.name + ' is not nullable in version ' + str(version)!r})")
        else:
            g.emit(ind + 1, "b.append(0)" if flex else "b += b'\\xff\\xff\\xff\\xff'")
        g.emit(ind, "else:")
        if flex:
            g.emit(ind + 1, f"t.write_uvarint(b, len({var}) + 1)")
        else:
            g.emit(ind + 1, f"b += t.I32.pack(len({var}))")
        if kind in _FIXED and kind != "uuid":
            fmt = _FIXED[kind]
            g.emit(ind + 1, f"b += struct.pack('>%d{fmt}' % len({var}), *{var})")
        else:
            item = g.name("x")
            g.emit(ind + 1, f"for {item} in {var}:")
            _enc_value(g, ind + 2, spec, item, version, flex, nested, array_elem=True)
        return
    if kind in _FIXED:
        s = g.const(struct.Struct(">" + _FIXED[kind]), "_st")
        g.emit(ind, f"b += {s}.pack({expr})")
    elif kind == "bool":
        g.emit(ind, f"b.append(1 if {expr} else 0)")
    elif kind == "string":
        g.emit(ind, f"t.{'write_compact_string' if flex else 'write_string'}(b, {expr})")
    elif kind in ("bytes", "records"):
        var = g.name("v")
        lenf = "t.write_compact_bytes_len" if flex else "t.write_bytes_len"
        g.emit(ind, f"{var} = {expr}")
        g.emit(ind, f"if {var} is None:")
        g.emit(ind + 1, f"{lenf}(b, None)")
        g.emit(ind, f"elif isinstance({var}, (bytes, bytearray, memoryview)):")
        g.emit(ind + 1, f"{lenf}(b, len({var}))")
        g.emit(ind + 1, f"b += {var}")
        g.emit(ind, "else:")
        if kind == "records":
            g.emit(ind + 1, f"{lenf}(b, {var}.length)")
            g.emit(ind + 1, f"w.split({var})")
        else:
            g.emit(ind + 1, f"raise TypeError('{spec.name} must be bytes')")
    else:  # a struct
        enc = g.const(nested[kind], "_cls")
        g.emit(ind, f"_encoder({enc}, {version})({expr}, w)")


def _gen_encoder(cls: type[Message], version: int) -> Callable[[Any, Writer], None]:
    spec: StructSpec = cls._spec
    flex = cls._flexible is not None and version in cls._flexible
    nested = _nested_of(cls)
    g = _Gen()
    g.env["_encoder"] = _encoder
    g.emit(0, "def enc(o, w):")
    g.emit(1, "b = w.buf")
    tagged = []
    for f in spec.fields:
        if not _present(f, version):
            continue
        if f.tag is not None:
            if flex:
                tagged.append(f)
            continue
        _enc_value(g, 1, f, f"o.{f.name}", version, flex, nested)
    if flex:
        if not tagged:
            g.emit(1, "b.append(0)")
        else:
            g.emit(1, "tags = []")
            for f in sorted(tagged, key=lambda f: -1 if f.tag is None else f.tag):
                default, fresh = _default_expr(f, {})
                if fresh and f.struct is not None and not f.array:
                    dflt = g.const(nested[f.struct.name], "_cls")
                    cond = f"o.{f.name} != {dflt}()"
                elif fresh:
                    cond = f"o.{f.name}"
                else:
                    cond = f"o.{f.name} != {default}"
                g.emit(1, f"if {cond}:")
                g.emit(2, "w2 = _Writer()")
                g.emit(2, "b, w_saved, w = w2.buf, w, w2")
                _enc_value(g, 2, f, f"o.{f.name}", version, flex, nested)
                g.emit(2, "w = w_saved")
                g.emit(2, "b = w.buf")
                g.emit(2, f"tags.append(({f.tag}, bytes(w2.buf)))")
            g.emit(1, "t.write_uvarint(b, len(tags))")
            g.emit(1, "for tag, data in tags:")
            g.emit(2, "t.write_uvarint(b, tag)")
            g.emit(2, "t.write_uvarint(b, len(data))")
            g.emit(2, "b += data")
    g.env["_Writer"] = Writer
    exec("\n".join(g.lines), g.env)
    encoder: Callable[[Any, Writer], None] = g.env["enc"]
    return encoder


def _dec_value(
    g: _Gen,
    ind: int,
    spec: FieldSpec,
    target: str,
    version: int,
    flex: bool,
    nested: dict[str, type[Message]],
    array_elem: bool = False,
) -> None:
    """Emit code reading one value (an element when array_elem) at `pos` into `target`."""
    kind = spec.type
    if spec.array and not array_elem:
        n = g.name("n")
        if flex:
            g.emit(ind, f"{n}, pos = t.read_compact_array_len(buf, pos)")
        else:
            g.emit(ind, f"{n}, pos = t.read_array_len(buf, pos)")
        g.emit(ind, f"if {n} < 0:")
        if spec.nullable_in(version):
            g.emit(ind + 1, f"{target} = None")
        else:
            g.emit(ind + 1, f"raise DecodeError({spec.name + ': null where the version does not allow it'!r})")
        g.emit(ind, "else:")
        g.emit(ind + 1, f"t.check_count(buf, pos, {n})")
        if kind in _FIXED and kind != "uuid":
            fmt = _FIXED[kind]
            size = struct.calcsize(">" + fmt)
            g.emit(ind + 1, f"{target} = list(struct.unpack_from('>%d{fmt}' % {n}, buf, pos))")
            g.emit(ind + 1, f"pos += {size} * {n}")
        else:
            lst = g.name("l")
            g.emit(ind + 1, f"{lst} = []")
            g.emit(ind + 1, f"for _ in range({n}):")
            item = g.name("x")
            _dec_value(g, ind + 2, spec, item, version, flex, nested, array_elem=True)
            g.emit(ind + 2, f"{lst}.append({item})")
            g.emit(ind + 1, f"{target} = {lst}")
        return
    if kind in _FIXED:
        s = struct.Struct(">" + _FIXED[kind])
        name = g.const(s, "_st")
        g.emit(ind, f"({target},) = {name}.unpack_from(buf, pos)")
        g.emit(ind, f"pos += {s.size}")
    elif kind == "bool":
        g.emit(ind, f"{target} = buf[pos] != 0")
        g.emit(ind, "pos += 1")
    elif kind == "string":
        g.emit(ind, f"{target}, pos = t.{'read_compact_string' if flex else 'read_string'}(buf, pos)")
        if not spec.nullable_in(version):
            g.emit(ind, f"if {target} is None:")
            g.emit(ind + 1, f"raise DecodeError({spec.name + ': null string where the version does not allow it'!r})")
    elif kind in ("bytes", "records"):
        g.emit(ind, f"{target}, pos = t.{'read_compact_bytes' if flex else 'read_bytes'}(buf, pos)")
        if kind == "bytes" and not spec.nullable_in(version):
            g.emit(ind, f"if {target} is None:")
            g.emit(ind + 1, f"raise DecodeError({spec.name + ': null bytes where the version does not allow it'!r})")
        elif kind == "bytes":
            pass
        if kind == "bytes":
            g.emit(ind, f"if {target} is not None:")
            g.emit(ind + 1, f"{target} = bytes({target})")
    else:
        cls = g.const(nested[kind], "_cls")
        g.emit(ind, f"{target}, pos = _decoder({cls}, {version})(buf, pos)")


def _gen_decoder(cls: type[Message], version: int) -> Callable[[Any, int], tuple[Any, int]]:
    spec: StructSpec = cls._spec
    flex = cls._flexible is not None and version in cls._flexible
    nested = _nested_of(cls)
    g = _Gen()
    g.env["_decoder"] = _decoder
    g.env["_cls_self"] = cls
    g.emit(0, "def dec(buf, pos):")
    g.emit(1, "o = _cls_self.__new__(_cls_self)")
    tagged = []
    for f in spec.fields:
        if _present(f, version) and f.tag is None:
            _dec_value(g, 1, f, f"o.{f.name}", version, flex, nested)
            continue
        if _present(f, version) and flex:
            tagged.append(f)
        default, fresh = _default_expr(f, {})
        if fresh and f.struct is not None and not f.array:
            g.emit(1, f"o.{f.name} = {g.const(nested[f.struct.name], '_cls')}()")
        else:
            g.emit(1, f"o.{f.name} = {default}")
    if flex:
        if not tagged:
            g.emit(1, "pos = t.skip_tagged(buf, pos)")
        else:
            g.emit(1, "ntags, pos = t.read_uvarint(buf, pos)")
            g.emit(1, "for _ in range(ntags):")
            g.emit(2, "tag, pos = t.read_uvarint(buf, pos)")
            g.emit(2, "size, pos = t.read_uvarint(buf, pos)")
            g.emit(2, "end = pos + size")
            g.emit(2, "if end > len(buf):")
            g.emit(3, "raise DecodeError('a tagged field runs past the end of the buffer')")
            for f in tagged:
                g.emit(2, f"if tag == {f.tag}:")
                _dec_value(g, 3, f, f"o.{f.name}", version, flex, nested)
            g.emit(2, "pos = end")
    g.emit(1, "return o, pos")
    exec("\n".join(g.lines), g.env)
    decoder: Callable[[Any, int], tuple[Any, int]] = g.env["dec"]
    return decoder


def _nested_of(cls: type[Message]) -> dict[str, type]:
    top = cls if hasattr(cls, "_nested") and cls._spec.name == cls.__qualname__ else None
    if top is None:
        top = _TOP[cls.__qualname__.split(".")[0]]
    return top._nested


# The registry --------------------------------------------------------------------------------


class ApiSpec(NamedTuple):
    key: int
    name: str
    request: type[Message]
    response: type[Message]
    min_version: int
    max_version: int
    flexible_from: int | None  # None: no flexible version

    def flexible(self, version: int) -> bool:
        return self.flexible_from is not None and version >= self.flexible_from


_TOP: dict[str, type[Message]] = {}
API_BY_KEY: dict[int, ApiSpec] = {}
DATA: dict[str, type[Message]] = {}  # versioned structs carried inside other payloads, by Kafka's name


def _register(name: str, text: str, versions: Versions, flexible: Versions | None) -> type[Message]:
    cls = _build(schema_pkg.parse(text, name), versions, flexible)
    _TOP[name] = cls
    globals()[name] = cls
    __all__.append(name)
    return cls


def _load() -> None:
    for info in pkgutil.iter_modules(schema_pkg.__path__):
        module = importlib.import_module(f"{schema_pkg.__name__}.{info.name}")
        if hasattr(module, "REQUEST"):
            versions = Versions.parse_range(module.VERSIONS)
            flexible = Versions.parse(module.FLEXIBLE)
            request = _register(f"{module.NAME}Request", module.REQUEST, versions, flexible)
            response = _register(f"{module.NAME}Response", module.RESPONSE, versions, flexible)
            API_BY_KEY[module.KEY] = ApiSpec(
                module.KEY,
                module.NAME,
                request,
                response,
                versions.low,
                versions.high,
                None if flexible is None else flexible.low,
            )
            continue
        for value in vars(module).values():
            if isinstance(value, tuple) and len(value) == 4 and isinstance(value[3], str):
                name, versions, flexible, text = value
                DATA[name] = _register(name, text, Versions.parse_range(versions), Versions.parse(flexible))


_load()


def __getattr__(name: str) -> Any:  # the generated classes, for type checkers and readers alike
    try:
        return _TOP[name]
    except KeyError:
        raise AttributeError(name) from None
