"""SASL DIGEST-MD5 (RFC 2831), authentication only (qop=auth), both sides.

ZooKeeper's DIGEST-MD5 uses the fixed realm and server name "zk-sasl-md5" and the
service "zookeeper", so the digest-uri a client must name is "zookeeper/zk-sasl-md5".
The exchange is three tokens:

    client: (empty)                 server: challenge  realm, nonce, qop, charset, algorithm
    client: digest-response         server: rspauth=...   (both sides now complete)

    A1 = H(user:realm:password) ":" nonce ":" cnonce [":" authzid]
    A2 = "AUTHENTICATE:" digest-uri      (rspauth: ":" digest-uri)
    response = HEX(KD(HEX(H(A1)), nonce:nc:cnonce:qop:HEX(H(A2))))   KD(k, s) = H(k:s)

Pure state machines (bytes in, bytes out): this module must never touch a socket, log a
password, or accept a response it has not checked in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping

REALM = "zk-sasl-md5"
SERVICE = "zookeeper"
MAX_RESPONSE = 4096  # RFC 2831 2.1.2: a digest-response is under 4096 bytes


class SaslError(Exception):
    """The exchange failed; the message is safe to log and to show the peer's operator."""


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data).digest()


def _hex(data: bytes) -> bytes:
    return hashlib.md5(data).hexdigest().encode()


def _quote(value: bytes) -> bytes:
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def parse_directives(token: bytes) -> dict[str, bytes]:
    """`key=value, key="quoted \\" value"` -> dict; a repeated key is an error."""
    out: dict[str, bytes] = {}
    i, n = 0, len(token)
    while i < n:
        while i < n and token[i] in b" \t\r\n,":
            i += 1
        if i >= n:
            break
        eq = token.find(b"=", i)
        if eq < 0:
            raise SaslError(f"malformed directive {token[i : i + 40]!r}")
        key = token[i:eq].strip().decode("ascii", "replace").lower()
        i = eq + 1
        if i < n and token[i : i + 1] == b'"':
            i += 1
            value = bytearray()
            while i < n and token[i : i + 1] != b'"':
                if token[i : i + 1] == b"\\" and i + 1 < n:
                    i += 1
                value += token[i : i + 1]
                i += 1
            if i >= n:
                raise SaslError(f"unterminated quoted value of {key}")
            i += 1
            val = bytes(value)
        else:
            end = token.find(b",", i)
            end = n if end < 0 else end
            val = token[i:end].strip()
            i = end
        if key in out:
            raise SaslError(f"directive {key} appears twice")
        out[key] = val
    return out


def _response_hash(
    user: bytes,
    realm: bytes,
    password: bytes,
    nonce: bytes,
    cnonce: bytes,
    authzid: bytes | None,
    nc: bytes,
    qop: bytes,
    a2: bytes,
) -> bytes:
    a1 = _md5(user + b":" + realm + b":" + password) + b":" + nonce + b":" + cnonce
    if authzid:
        a1 += b":" + authzid
    return _hex(_hex(a1) + b":" + nonce + b":" + nc + b":" + cnonce + b":" + qop + b":" + _hex(a2))


class DigestMD5Server:
    """One server-side exchange. `evaluate(token)` returns the next token to send or
    raises SaslError; once `complete`, `authorization_id` names the user."""

    def __init__(self, users: Mapping[str, str], service: str = SERVICE, server_name: str = REALM) -> None:
        self._users = users
        self._digest_uri = f"{service}/{server_name}".encode()
        self._nonce = base64.b64encode(os.urandom(24))
        self.step = 0
        self.complete = False
        self.authorization_id: str | None = None

    def evaluate(self, token: bytes) -> bytes:
        if self.complete or self.step > 1:
            raise SaslError("the DIGEST-MD5 exchange is already over")
        self.step += 1
        if self.step == 1:
            if token:
                raise SaslError(
                    "DIGEST-MD5 starts with an empty client token; this one has "
                    f"{len(token)} bytes (is the client using another mechanism?)"
                )
            return (
                b'realm="'
                + REALM.encode()
                + b'",nonce='
                + _quote(self._nonce)
                + b',qop="auth",charset=utf-8,algorithm=md5-sess'
            )
        return self._check(token)

    def _check(self, token: bytes) -> bytes:
        if len(token) >= MAX_RESPONSE:
            raise SaslError(f"a {len(token)}-byte digest-response (RFC 2831 limit {MAX_RESPONSE})")
        d = parse_directives(token)
        missing = [k for k in ("username", "nonce", "cnonce", "nc", "response", "digest-uri") if k not in d]
        if missing:
            raise SaslError(f"digest-response lacks {', '.join(missing)}")
        if not hmac.compare_digest(d["nonce"], self._nonce):
            raise SaslError("digest-response answers another nonce")
        if d["nc"] != b"00000001":
            raise SaslError(f"nonce count {d['nc']!r} (expected 00000001)")
        qop = d.get("qop", b"auth")
        if qop != b"auth":
            raise SaslError(f"qop {qop!r} not offered (only auth)")
        if d["digest-uri"] != self._digest_uri:
            raise SaslError(f"digest-uri {d['digest-uri']!r} is not {self._digest_uri!r}")
        realm = d.get("realm", REALM.encode())
        if realm != REALM.encode():
            raise SaslError(f"realm {realm!r} is not {REALM}")
        utf8 = d.get("charset", b"").lower() == b"utf-8"
        user = d["username"].decode("utf-8" if utf8 else "latin-1")
        password = self._users.get(user)
        authzid = d.get("authzid")
        # A wrong user and a wrong password look the same to the client (no user probing).
        expect = _response_hash(
            d["username"],
            realm,
            (password or "").encode("utf-8" if utf8 else "latin-1", "replace"),
            d["nonce"],
            d["cnonce"],
            authzid,
            d["nc"],
            qop,
            b"AUTHENTICATE:" + self._digest_uri,
        )
        if password is None or not hmac.compare_digest(expect, d["response"].lower()):
            raise SaslError(f"wrong username or password (user {user!r})")
        if authzid and authzid.decode("utf-8", "replace") != user:
            raise SaslError(f"user {user!r} may not act as {authzid!r}")
        rspauth = _response_hash(
            d["username"],
            realm,
            password.encode("utf-8" if utf8 else "latin-1"),
            d["nonce"],
            d["cnonce"],
            authzid,
            d["nc"],
            qop,
            b":" + self._digest_uri,
        )
        self.complete = True
        self.authorization_id = user
        return b"rspauth=" + rspauth


class DigestMD5Client:
    """The client side (coord's quorum learners use it): `evaluate(challenge)` from an
    empty start; complete once the server's rspauth checked out."""

    def __init__(self, username: str, password: str, service: str = SERVICE, server_name: str = REALM) -> None:
        self._user = username.encode()
        self._password = password.encode()
        self._digest_uri = f"{service}/{server_name}".encode()
        self._expect: bytes | None = None
        self.complete = False

    def initial(self) -> bytes:
        return b""

    def evaluate(self, challenge: bytes) -> bytes:
        d = parse_directives(challenge)
        if self._expect is not None:
            if not hmac.compare_digest(d.get("rspauth", b""), self._expect):
                raise SaslError("the server's rspauth is wrong: it does not know our password")
            self.complete = True
            return b""
        if "nonce" not in d or b"auth" not in d.get("qop", b"auth").split(b","):
            raise SaslError("challenge without a nonce or without qop=auth")
        realm = d.get("realm", REALM.encode())
        cnonce = base64.b64encode(os.urandom(24))
        args = (self._user, realm, self._password, d["nonce"], cnonce, None, b"00000001", b"auth")
        self._expect = _response_hash(*args, b":" + self._digest_uri)
        response = _response_hash(*args, b"AUTHENTICATE:" + self._digest_uri)
        return (
            b"charset=utf-8,username="
            + _quote(self._user)
            + b",realm="
            + _quote(realm)
            + b",nonce="
            + _quote(d["nonce"])
            + b",nc=00000001,cnonce="
            + _quote(cnonce)
            + b",digest-uri="
            + _quote(self._digest_uri)
            + b",maxbuf=65536,response="
            + response
            + b",qop=auth"
        )
