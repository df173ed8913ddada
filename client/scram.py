"""SCRAM (RFC 5802, with SHA-256 and SHA-512 as RFC 7677 and Kafka use them): the arithmetic
both sides share, and the client's side of the exchange.

The exchange is three messages: the client's first (user name and a nonce), the server's
first (the nonce extended, the salt, the iteration count), the client's final (a proof that
it knows the salted password); the server's final proves the server knows the stored key.
Kafka keeps, per user and mechanism, salt, StoredKey = H(HMAC(SaltedPassword, "Client Key")),
ServerKey = HMAC(SaltedPassword, "Server Key") and the iteration count: `credential` makes
those. This module must never do I/O; the connection moves the bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
MIN_ITERATIONS = 4096  # Kafka's minimum (and the RFC's recommendation)
MAX_ITERATIONS = 16384  # Kafka's maximum
GS2_HEADER = "n,,"  # no channel binding, no authorization identity


class ScramError(Exception):
    """A SCRAM message that is malformed or fails verification; the message says which."""


@dataclass(frozen=True)
class ScramCredential:
    """What a server stores for one user and mechanism (never the password)."""

    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int


def _hmac(hash_name: str, key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hash_name).digest()


def salted_password(hash_name: str, password: str, salt: bytes, iterations: int) -> bytes:
    """Hi(password, salt, i): PBKDF2 with HMAC-H, one block."""
    return hashlib.pbkdf2_hmac(hash_name, password.encode(), salt, iterations)


def credential(
    mechanism: str, password: str, iterations: int = MIN_ITERATIONS, salt: bytes | None = None
) -> ScramCredential:
    """The stored form of `password` for `mechanism` (a random 32-byte salt unless given)."""
    salt = os.urandom(32) if salt is None else salt
    return credential_from_salted(
        mechanism, salt, salted_password(HASHES[mechanism], password, salt, iterations), iterations
    )


def credential_from_salted(mechanism: str, salt: bytes, salted: bytes, iterations: int) -> ScramCredential:
    """The stored form from a salted password, which is what AlterUserScramCredentials carries
    (the client salts and hashes; the password never travels)."""
    h = HASHES[mechanism]
    client_key = _hmac(h, salted, b"Client Key")
    return ScramCredential(salt, hashlib.new(h, client_key).digest(), _hmac(h, salted, b"Server Key"), iterations)


def escape_name(name: str) -> str:
    return name.replace("=", "=3D").replace(",", "=2C")


def unescape_name(name: str) -> str:
    if "=" in name.replace("=3D", "").replace("=2C", ""):
        raise ScramError(f"user name {name!r} has an '=' that is not =3D or =2C")
    return name.replace("=2C", ",").replace("=3D", "=")


def parse_attributes(message: str) -> dict[str, str]:
    """ "a=1,b=2" as {"a": "1", "b": "2"} (values may contain '='); raises ScramError."""
    out: dict[str, str] = {}
    for item in message.split(","):
        if len(item) < 2 or item[1] != "=" or not item[0].isalpha():
            raise ScramError(f"SCRAM attribute {item[:40]!r} is not x=value")
        out[item[0]] = item[2:]
    return out


def nonce() -> str:
    return base64.b64encode(os.urandom(24)).decode().replace(",", "-")


class ScramClient:
    """The client's side: `first()`, `final(server_first)`, `verify(server_final)`."""

    def __init__(self, mechanism: str, username: str, password: str, client_nonce: str | None = None) -> None:
        if mechanism not in HASHES:
            raise ScramError(f"unknown SCRAM mechanism {mechanism}")
        self.hash = HASHES[mechanism]
        self.password = password
        self.client_nonce = client_nonce or nonce()
        self.first_bare = f"n={escape_name(username)},r={self.client_nonce}"
        self._server_signature: bytes | None = None

    def first(self) -> bytes:
        return (GS2_HEADER + self.first_bare).encode()

    def final(self, server_first: bytes) -> bytes:
        attrs = parse_attributes(server_first.decode(errors="replace"))
        if "e" in attrs:
            raise ScramError(f"server refused: {attrs['e']}")
        try:
            full_nonce, salt, iterations = attrs["r"], base64.b64decode(attrs["s"], validate=True), int(attrs["i"])
        except (KeyError, ValueError) as exc:
            raise ScramError(f"server-first-message is malformed ({exc})") from None
        if not full_nonce.startswith(self.client_nonce) or len(full_nonce) == len(self.client_nonce):
            raise ScramError("server nonce does not extend ours")
        if iterations < MIN_ITERATIONS:
            raise ScramError(f"server asks for {iterations} iterations, fewer than {MIN_ITERATIONS}")
        without_proof = f"c={base64.b64encode(GS2_HEADER.encode()).decode()},r={full_nonce}"
        auth_message = f"{self.first_bare},{server_first.decode()},{without_proof}".encode()
        salted = salted_password(self.hash, self.password, salt, iterations)
        client_key = _hmac(self.hash, salted, b"Client Key")
        stored_key = hashlib.new(self.hash, client_key).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, _hmac(self.hash, stored_key, auth_message), strict=True))
        self._server_signature = _hmac(self.hash, _hmac(self.hash, salted, b"Server Key"), auth_message)
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final: bytes) -> None:
        attrs = parse_attributes(server_final.decode(errors="replace"))
        if "e" in attrs:
            raise ScramError(f"server refused: {attrs['e']}")
        try:
            signature = base64.b64decode(attrs["v"], validate=True)
        except (KeyError, ValueError):
            raise ScramError("server-final-message has no verifier") from None
        if self._server_signature is None or not hmac.compare_digest(signature, self._server_signature):
            raise ScramError("the server's signature is wrong: it does not know this user's key")
