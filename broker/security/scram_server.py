"""The server's side of SCRAM-SHA-256/512 (RFC 5802, RFC 7677) against Kafka's stored credentials,
and the text form Kafka keeps them in ("salt=...,stored_key=...,server_key=...,iterations=4096").

`ScramServer` is a two-step state machine: `first(client_first, lookup)` answers the
server-first-message, `final(client_final)` checks the proof and answers with the server's
signature; either raises `AuthenticationFailedError` with a reason for the log (the client is told
only that authentication failed). An unknown user gets the same refusal as a wrong password,
after the same work. This module must never do I/O beyond the awaited credential lookup.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Awaitable, Callable

from client.scram import (
    GS2_HEADER,
    HASHES,
    MIN_ITERATIONS,
    ScramCredential,
    ScramError,
    credential,
    nonce,
    parse_attributes,
    unescape_name,
)

CredentialLookup = Callable[[str, str], Awaitable[ScramCredential | None]]  # (mechanism, user)


class AuthenticationFailedError(Exception):
    """A SASL exchange that must end: the message says why (for the log, and for the client
    where it reveals nothing about which users exist)."""


def format_credential(cred: ScramCredential) -> str:
    b64 = base64.b64encode
    return (
        f"salt={b64(cred.salt).decode()},stored_key={b64(cred.stored_key).decode()},"
        f"server_key={b64(cred.server_key).decode()},iterations={cred.iterations}"
    )


def parse_credential(text: str) -> ScramCredential:
    """Kafka's credential text; ValueError if a part is missing or not base64."""
    parts = dict(item.split("=", 1) for item in text.split(",") if "=" in item)
    try:
        return ScramCredential(
            base64.b64decode(parts["salt"], validate=True),
            base64.b64decode(parts["stored_key"], validate=True),
            base64.b64decode(parts["server_key"], validate=True),
            int(parts["iterations"]),
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"SCRAM credential {text[:40]!r}...: {exc}") from None


class ScramServer:
    def __init__(self, mechanism: str, server_nonce: str | None = None) -> None:
        """`server_nonce`: our part of the nonce (random unless given, e.g. by RFC test vectors)."""
        self.mechanism = mechanism
        self._server_nonce = server_nonce
        self.hash = HASHES[mechanism]
        self.username: str | None = None
        self._cred: ScramCredential | None = None
        self._gs2 = ""
        self._nonce = ""
        self._auth_prefix = ""

    async def first(self, client_first: bytes, lookup: CredentialLookup) -> bytes:
        try:
            text = client_first.decode()
            cbind, authzid, bare = text.split(",", 2)
            if cbind not in ("n", "y"):
                raise ScramError("channel binding is not supported")
            attrs = parse_attributes(bare)
            username = unescape_name(attrs["n"])
            client_nonce = attrs["r"]
        except (UnicodeDecodeError, ValueError, KeyError, ScramError) as exc:
            raise AuthenticationFailedError(f"malformed SCRAM client-first-message ({exc})") from None
        if authzid and unescape_name(authzid.removeprefix("a=")) != username:
            raise AuthenticationFailedError(f"authorization id {authzid!r} is not the user {username!r}")
        self.username = username
        self._cred = await lookup(self.mechanism, username)
        if self._cred is None:  # same work and answer as for a known user: no user enumeration
            self._cred = credential(
                self.mechanism, nonce(), MIN_ITERATIONS, salt=hashlib.sha256(username.encode()).digest()
            )
            self.username = None
        self._gs2 = f"{cbind},{authzid},"
        self._nonce = client_nonce + (self._server_nonce or nonce())
        server_first = f"r={self._nonce},s={base64.b64encode(self._cred.salt).decode()},i={self._cred.iterations}"
        self._auth_prefix = f"{bare},{server_first}"
        return server_first.encode()

    def final(self, client_final: bytes) -> bytes:
        assert self._cred is not None, "final() before first()"
        try:
            text = client_final.decode()
            without_proof, _, proof_part = text.rpartition(",")
            attrs = parse_attributes(without_proof)
            if not proof_part.startswith("p="):
                raise ScramError("no proof")
            proof = base64.b64decode(proof_part[2:], validate=True)
            binding = base64.b64decode(attrs["c"], validate=True).decode()
        except (UnicodeDecodeError, ValueError, KeyError, ScramError) as exc:
            raise AuthenticationFailedError(f"malformed SCRAM client-final-message ({exc})") from None
        if binding != self._gs2 and binding != GS2_HEADER:
            raise AuthenticationFailedError("channel binding data does not match the client-first-message")
        if attrs.get("r") != self._nonce:
            raise AuthenticationFailedError("the nonce of the client-final-message is not this exchange's")
        auth_message = f"{self._auth_prefix},{without_proof}".encode()
        signature = hmac.new(self._cred.stored_key, auth_message, self.hash).digest()
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=False))
        if (
            len(proof) != len(signature)
            or self.username is None
            or not hmac.compare_digest(hashlib.new(self.hash, client_key).digest(), self._cred.stored_key)
        ):
            raise AuthenticationFailedError("invalid credentials")
        server_signature = hmac.new(self._cred.server_key, auth_message, self.hash).digest()
        return f"v={base64.b64encode(server_signature).decode()}".encode()
