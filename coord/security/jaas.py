"""JAAS login configuration files, the part ZooKeeper's DIGEST-MD5 setups use.

    Server {
        org.apache.zookeeper.server.auth.DigestLoginModule required
        user_super="adminsecret"
        user_bob="bobsecret";
    };
    Client { org.apache.zookeeper.server.auth.DigestLoginModule required
             username="bob" password="bobsecret"; };

A section is `Name { module flag key=value ... ; ... };`, with `//` and `/* */` comments.
`user_<name>="password"` options are the users a server side accepts; `username` and
`password` are what a client side presents. The module's class name is kept but not
interpreted (Kerberos' Krb5LoginModule sections parse, and simply carry no users).

Pure parsing: this module must never read a file or an environment variable itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class JaasError(ValueError):
    """The file is not a JAAS configuration; the message says where."""


@dataclass
class JaasSection:
    name: str
    modules: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)

    @property
    def users(self) -> dict[str, str]:
        return {k[5:]: v for k, v in self.options.items() if k.startswith("user_") and k[5:]}

    @property
    def username(self) -> str | None:
        return self.options.get("username")

    @property
    def password(self) -> str | None:
        return self.options.get("password")


_TOKEN = re.compile(r'\s+|//[^\n]*|/\*.*?\*/|"((?:[^"\\]|\\.)*)"|([{};=])|([^\s{};="]+)', re.S)


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, value) with kind 'str' (quoted), 'sym' or 'word'."""
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise JaasError(f"unexpected {text[pos : pos + 20]!r} at offset {pos}")
        pos = m.end()
        if m.group(1) is not None:
            out.append(("str", re.sub(r"\\(.)", r"\1", m.group(1))))
        elif m.group(2) is not None:
            out.append(("sym", m.group(2)))
        elif m.group(3) is not None:
            out.append(("word", m.group(3)))
    return out


def parse_jaas(text: str) -> dict[str, JaasSection]:
    """Every section of a JAAS file, by name."""
    toks = _tokens(text)
    sections: dict[str, JaasSection] = {}
    i = 0

    def expect(kind: str, value: str | None = None) -> str:
        nonlocal i
        if i >= len(toks) or toks[i][0] != kind or (value is not None and toks[i][1] != value):
            got = toks[i][1] if i < len(toks) else "end of file"
            raise JaasError(f"expected {value or kind}, got {got!r}")
        i += 1
        return toks[i - 1][1]

    while i < len(toks):
        section = JaasSection(expect("word"))
        expect("sym", "{")
        while i < len(toks) and toks[i] != ("sym", "}"):
            section.modules.append(expect("word"))
            expect("word")  # required | requisite | sufficient | optional
            while i < len(toks) and toks[i] != ("sym", ";"):
                if toks[i] == ("sym", "}"):
                    raise JaasError(f"section {section.name}: a login module's options must end with ';'")
                key = expect("word")
                expect("sym", "=")
                kind, value = toks[i] if i < len(toks) else ("", "")
                if kind not in ("str", "word"):
                    raise JaasError(f"option {key} of section {section.name} has no value")
                i += 1
                section.options[key] = value
            expect("sym", ";")
        expect("sym", "}")
        expect("sym", ";")
        sections[section.name] = section
    return sections
