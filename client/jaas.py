"""The options of a JAAS login line, as Kafka writes them in `sasl.jaas.config`:
`org.apache...ScramLoginModule required username="alice" password="s3cret";`.

Kafka puts credentials in JAAS text both on clients (username/password) and on brokers (the
PLAIN users as user_<name>="password"); both sides read it here. This module must never
resolve a login module class: only the quoted key=value options count.
"""

from __future__ import annotations

import re

_OPTION = re.compile(r'([A-Za-z0-9_.\-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]+))')


class JaasError(ValueError):
    """JAAS text that does not parse; the message says where."""


def parse_jaas_options(text: str) -> dict[str, str]:
    """The key="value" options after the module name and its control flag."""
    body = text.strip().rstrip(";").strip()
    parts = body.split(None, 2)
    if len(parts) < 2 or parts[1].lower() not in ("required", "requisite", "sufficient", "optional"):
        raise JaasError(f"JAAS config {text[:60]!r}: expected '<LoginModule> required key=\"value\" ...;'")
    rest = parts[2] if len(parts) == 3 else ""
    out: dict[str, str] = {}
    pos = 0
    for match in _OPTION.finditer(rest):
        if rest[pos : match.start()].strip():
            raise JaasError(f"JAAS config: cannot read {rest[pos : match.start()].strip()[:40]!r}")
        quoted, bare = match.group(2), match.group(3)
        out[match.group(1)] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        pos = match.end()
    if rest[pos:].strip():
        raise JaasError(f"JAAS config: cannot read {rest[pos:].strip()[:40]!r}")
    return out
