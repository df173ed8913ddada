"""ACLs: validating what clients store, and checking what a connection may do.

A connection's ids are its implicit `ip:<address>` plus one `digest:user:hash` per digest
auth packet it sent, `sasl:<user>` after a SASL login and `x509:<subject>` for a TLS client
certificate. An ACL entry grants its permission bits to a connection when its id
matches one of those (`world:anyone` matches everyone; `ip` entries match by address and
mask). A node with an empty ACL allows everything, and so does the `super` id (a
configured super digest or SASL super user) on every node. Rules are ZooKeeper 3.8's.

Pure functions: this module must never look at the tree or a socket.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from coord.protocol.errors import ErrorCode
from coord.protocol.opcodes import Perms

_IPV4 = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(/(\d{1,2}))?$")

Ids = list[tuple[str, str]]
SUPER = ("super", "")  # never stored in an ACL: it passes every check


class AclError(Exception):
    """INVALIDACL or NOAUTH, with a message naming what was refused."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _valid_ip(ident: str) -> bool:
    m = _IPV4.match(ident)
    if not m:
        return False
    octets_ok = all(int(m.group(i)) <= 255 for i in range(1, 5))
    return octets_ok and (m.group(6) is None or int(m.group(6)) <= 32)


def fixup_acl(acl: list | None, ids: Ids) -> list[list[Any]]:
    """ZooKeeper's ACL input rules: dedupe, expand `auth` to the caller's authenticated
    ids (not its implicit ip id), refuse empty lists, unknown schemes and bad ids."""
    if not acl:
        raise AclError(ErrorCode.INVALIDACL, "an ACL list must not be empty")
    authenticated = [(s, i) for s, i in ids if s not in ("ip", "super")]
    out: list[list[Any]] = []
    for perms, scheme, ident in acl:
        scheme, ident = scheme or "", ident or ""
        if scheme == "auth":
            if not authenticated:
                raise AclError(
                    ErrorCode.INVALIDACL,
                    "the auth scheme needs an authenticated connection (digest auth, SASL or a client certificate)",
                )
            expanded = [[perms, s, i] for s, i in authenticated]
        elif (
            (scheme == "world" and ident == "anyone")
            or (scheme == "digest" and ident.count(":") == 1)
            or (scheme == "ip" and _valid_ip(ident))
            or (scheme in ("sasl", "x509") and ident)
        ):
            expanded = [[perms, scheme, ident]]
        else:
            raise AclError(ErrorCode.INVALIDACL, f"invalid ACL id {scheme}:{ident}")
        out.extend(e for e in expanded if e not in out)
    return out


def _ip_matches(entry: str, ids: Ids) -> bool:
    try:
        net = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    for scheme, ident in ids:
        if scheme == "ip":
            try:
                if ipaddress.ip_address(ident) in net:
                    return True
            except ValueError:
                continue
    return False


def allowed(acl: list[list[Any]], perm: int, ids: Ids) -> bool:
    if not acl or SUPER in ids:
        return True
    perm = int(perm)  # IntFlag arithmetic is slow, and this runs on every read
    for perms, scheme, ident in acl:
        if not perms & perm:
            continue
        if scheme == "world" and ident == "anyone":
            return True
        if scheme == "ip" and _ip_matches(ident, ids):
            return True
        if (scheme, ident) in ids:
            return True
    return False


def check(acl: list[list[Any]], perm: int, ids: Ids, path: str) -> None:
    if not allowed(acl, perm, ids):
        raise AclError(ErrorCode.NOAUTH, f"{Perms(perm).name} is not allowed on {path}")


def shown_to(acl: list[list[Any]], ids: Ids) -> list[list[Any]]:
    """getACL without ADMIN shows digest ids with everything after the user masked."""
    if allowed(acl, Perms.ADMIN, ids):
        return acl
    return [[p, s, f"{i.partition(':')[0]}:x" if s == "digest" else i] for p, s, i in acl]
