"""Who one client connection is: the ids its ACL checks see, and how it earns them.

A connection starts with its implicit `ip:<address>`; on the TLS port a client
certificate adds `x509:<subject>` (ZooKeeper's x509 provider). Then:

- a digest auth packet adds `digest:user:base64(sha1(user:password))`, and the `super`
  id when that matches `zookeeper.DigestAuthenticationProvider.superDigest`;
- a SASL DIGEST-MD5 exchange (opcode 102, tokens through `sasl_step`) adds `sasl:<user>`,
  and `super` when the user is `zookeeper.superUser`;
- with `enforce.auth.enabled` nothing but auth and SASL packets is allowed until one of
  the required schemes has added an id (ZooKeeper's AuthenticationHelper).

This module must never look at the tree, and never grant an id before the credential
behind it has been checked.
"""

from __future__ import annotations

import base64
import hashlib

from coord.protocol.errors import ErrorCode
from coord.protocol.opcodes import OpCode
from coord.security.digest_md5 import DigestMD5Server
from coord.security.settings import SecuritySettings
from coord.server.acl import SUPER

Ids = list[tuple[str, str]]


class ClientAuth:
    def __init__(self, settings: SecuritySettings, address: str, certificate_subject: str | None = None) -> None:
        self.settings = settings
        self.address = address
        self.auth_ids: Ids = []
        self._ids: Ids | None = None
        self._sasl: DigestMD5Server | None = None
        if certificate_subject is not None:
            self._add(("x509", certificate_subject))

    @property
    def ids(self) -> Ids:
        """For ACL checks: the address plus every authenticated id."""
        if self._ids is None:
            self._ids = [("ip", self.address), *self.auth_ids]
        return self._ids

    def _add(self, ident: tuple[str, str]) -> None:
        if ident not in self.auth_ids:
            self.auth_ids.append(ident)
            self._ids = None

    def digest(self, scheme: str, auth: bytes) -> bool:
        """An auth packet; only the digest scheme (`user:password`) is known."""
        if scheme != "digest" or b":" not in auth:
            return False
        user, _, _ = auth.decode("utf-8", "replace").partition(":")
        digest = base64.b64encode(hashlib.sha1(auth).digest()).decode()
        self._add(("digest", f"{user}:{digest}"))
        if self.settings.super_digest == (user, digest):
            self._add(SUPER)
        return True

    @property
    def sasl_enabled(self) -> bool:
        return bool(self.settings.sasl_users)

    def sasl_step(self, token: bytes) -> bytes:
        """One client token in, the server's next token out; raises SaslError. Once the
        exchange completes the connection carries `sasl:<user>`."""
        if self._sasl is None:
            self._sasl = DigestMD5Server(self.settings.sasl_users or {})
        out = self._sasl.evaluate(token)
        user = self._sasl.authorization_id
        if self._sasl.complete and user is not None:
            self._add(("sasl", user))
            if self.settings.super_user is not None and user == self.settings.super_user:
                self._add(SUPER)
        return out

    @property
    def sasl_user(self) -> str | None:
        return self._sasl.authorization_id if self._sasl is not None else None

    @property
    def sasl_failure_code(self) -> int:
        """ZooKeeper's answer to a failed exchange: -124 where SASL is required."""
        if "sasl" in self.settings.enforce_schemes:
            return ErrorCode.SESSIONCLOSEDREQUIRESASLAUTH
        return ErrorCode.AUTHFAILED

    def allows(self, op: OpCode | None) -> bool:
        """enforce.auth.enabled: may a request of this kind go through yet?"""
        schemes = self.settings.enforce_schemes
        if not schemes or op in (OpCode.auth, OpCode.sasl):
            return True
        return any(scheme in schemes for scheme, _ in self.auth_ids)
