"""Kafka's message definitions in our own notation, and the parser that reads them.

One module per API (`produce.py`, `fetch.py`, ...) holds KEY, NAME, VERSIONS (the versions the
codec knows), FLEXIBLE (the first flexible version, "N+", or "none") and two texts, REQUEST and
RESPONSE. `consumer_protocol.py` and `group_records.py` hold versioned structs that travel inside
other payloads (group member metadata, `__consumer_offsets` records). The facts (field names,
types, version ranges, defaults, tags) are Apache Kafka's protocol: a compatible broker must
agree with them byte for byte. The notation is ours, chosen to be read by people:

    <indent><name> <type> [<versions>] [nullable=<versions>] [tag=<n>] [default=<value>]

- indent: two spaces per level; the lines under a struct-typed field are its fields.
- name: Kafka's field name in snake_case, which is the attribute name of the generated class.
- type: int8 int16 int32 int64 uint16 uint32 float64 bool uuid string bytes records, a struct
  name (CamelCase), or `[]` + any of these for an array. A struct named a second time without
  lines under it is the same struct again.
- versions: `3+`, `0-4` or `2`; all the message's versions when left out.
- nullable: the versions in which the field may be null.
- tag: a tagged field (flexible versions only), carried in its struct's tagged-field section.
- default: an integer, `null`, `true`, `false` or `''`; otherwise 0, "", false, an empty
  array, a default struct.

This module must never encode or decode bytes: that is `client.protocol.messages`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PRIMITIVES = frozenset(
    {"int8", "int16", "int32", "int64", "uint16", "uint32", "float64", "bool", "uuid", "string", "bytes", "records"}
)
NEWEST = 0x7FFF  # the open end of a "N+" range


@dataclass(frozen=True)
class Versions:
    low: int
    high: int

    @classmethod
    def parse(cls, text: str) -> Versions | None:
        if text == "none":
            return None
        if text.endswith("+"):
            return cls(int(text[:-1]), NEWEST)
        low, _, high = text.partition("-")
        return cls(int(low), int(high or low))

    @classmethod
    def parse_range(cls, text: str) -> Versions:
        """Like `parse`, where "none" is not allowed (a message's or a field's versions)."""
        found = cls.parse(text)
        if found is None:
            raise ValueError(f"a version range is needed here, not {text!r}")
        return found

    def __contains__(self, version: int) -> bool:
        return self.low <= version <= self.high


@dataclass
class FieldSpec:
    name: str
    type: str  # primitive name or struct name, without the array marker
    array: bool
    versions: Versions
    nullable: Versions | None
    tag: int | None
    default: Any
    struct: StructSpec | None = None

    def nullable_in(self, version: int) -> bool:
        return self.nullable is not None and version in self.nullable


@dataclass
class StructSpec:
    name: str
    fields: list[FieldSpec] = field(default_factory=list)


class SchemaError(ValueError):
    """A schema text does not follow the notation: a bug in this package, found at import."""


_DEFAULTS = {"null": None, "true": True, "false": False, "''": ""}
_RANGE = re.compile(r"^\d+(\+|-\d+)?$")


def _field(line: str, where: str) -> FieldSpec:
    name, type_, *rest = line.split()
    array = type_.startswith("[]")
    base = type_[2:] if array else type_
    versions, nullable, tag, default = Versions(0, NEWEST), None, None, _NO_DEFAULT
    for token in rest:
        key, eq, value = token.partition("=")
        if not eq and _RANGE.match(token):
            versions = Versions.parse_range(token)
        elif key == "nullable":
            nullable = Versions.parse(value)
        elif key == "tag":
            tag = int(value)
        elif key == "default":
            default = _DEFAULTS[value] if value in _DEFAULTS else int(value)
        else:
            raise SchemaError(f"{where}: unknown token {token!r} in {line.strip()!r}")
    if base not in PRIMITIVES and not base[:1].isupper():
        raise SchemaError(f"{where}: unknown type {type_!r}")
    return FieldSpec(name, base, array, versions, nullable, tag, default)


_NO_DEFAULT = object()


def parse(text: str, name: str) -> StructSpec:
    """The struct a schema text describes; `name` names the top-level struct."""
    root = StructSpec(name)
    known: dict[str, StructSpec] = {}
    stack: list[tuple[int, StructSpec]] = [(-1, root)]
    last: FieldSpec | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        while stack[-1][0] >= depth:
            stack.pop()
        if depth > stack[-1][0] + 1:
            if last is None or last.type in PRIMITIVES or depth != stack[-1][0] + 2:
                raise SchemaError(f"{name} line {number}: indented under a field that is not a struct")
            struct = StructSpec(last.type)
            if last.type in known:
                raise SchemaError(f"{name} line {number}: struct {last.type} is defined twice")
            known[last.type] = last.struct = struct
            stack.append((depth - 1, struct))
        spec = _field(line, f"{name} line {number}")
        stack[-1][1].fields.append(spec)
        last = spec
    _link(root, known, name)
    return root


def _link(struct: StructSpec, known: dict[str, StructSpec], name: str) -> None:
    for spec in struct.fields:
        if spec.type in PRIMITIVES:
            continue
        if spec.struct is None:
            if spec.type not in known:
                raise SchemaError(f"{name}: struct {spec.type} is used before it is defined")
            spec.struct = known[spec.type]
        else:
            _link(spec.struct, known, name)


def is_default_missing(value: Any) -> bool:
    return value is _NO_DEFAULT
