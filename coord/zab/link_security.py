"""Who may open a peer link: TLS on the quorum port and the quorum SASL handshake.

With `sslQuorum` both ends of every link present certificates that must chain to the
quorum truststore (mutual TLS), so a process without one cannot even finish the
handshake. With `quorum.auth.enableSasl` the dialer, right after naming its server id,
proves it knows a QuorumServer user's password with SASL DIGEST-MD5, and checks the
acceptor's rspauth in return (so both ends know the secret):

    dialer -> acceptor   u32 sid
    dialer -> acceptor   u32 len | token   (empty: start)
    acceptor -> dialer   u32 len | challenge
    dialer -> acceptor   u32 len | digest-response
    acceptor -> dialer   u32 len | rspauth        (a refused dialer is disconnected instead)

With TLS and `ssl.quorum.hostnameVerification` (the default), the acceptor also checks
that the dialer's certificate names the host the claimed server id is configured at in
the peers list, so a member holding a valid certificate for host B cannot speak as the
member on host A.

Until the handshake succeeds nothing the dialer sends is decoded, and the link is not
reported to the ZAB core, so a connection that claims another member's id without
credentials changes nothing. This module must never let an unauthenticated link carry
a message, and never wait on a peer without a deadline.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from coord.security.digest_md5 import MAX_RESPONSE, DigestMD5Client, DigestMD5Server, SaslError

log = logging.getLogger("coord.zab.link_security")

_U32 = struct.Struct(">I")


class LinkRefusedError(Exception):
    """The peer did not authenticate; the message says why (safe to log)."""


@dataclass(frozen=True)
class LinkSecurity:
    server_ssl: ssl.SSLContext | None = None  # the quorum port's listener
    client_ssl: ssl.SSLContext | None = None  # dialing a peer
    sasl_login: tuple[str, str] | None = None  # QuorumLearner: what we present
    sasl_users: Mapping[str, str] | None = None  # QuorumServer: whom we accept
    verify_peer_host: bool = False  # a dialer's certificate names its host
    timeout: float = 5.0


async def _read_token(reader: asyncio.StreamReader) -> bytes:
    (size,) = _U32.unpack(await reader.readexactly(4))
    if size > MAX_RESPONSE:
        raise LinkRefusedError(f"a {size}-byte SASL token (limit {MAX_RESPONSE})")
    return await reader.readexactly(size)


def _write_token(writer: asyncio.StreamWriter, token: bytes) -> None:
    writer.write(_U32.pack(len(token)) + token)


async def authenticate_to(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, security: LinkSecurity) -> None:
    """Dialer side, after sending our sid. Raises LinkRefusedError or a connection error."""
    if security.sasl_login is None:
        return
    client = DigestMD5Client(*security.sasl_login)

    async def exchange() -> None:
        _write_token(writer, client.initial())
        _write_token(writer, client.evaluate(await _read_token(reader)))
        client.evaluate(await _read_token(reader))

    try:
        await asyncio.wait_for(exchange(), security.timeout)
    except SaslError as e:
        raise LinkRefusedError(str(e)) from None
    except TimeoutError:
        raise LinkRefusedError("quorum SASL handshake timed out") from None
    except asyncio.IncompleteReadError:
        raise LinkRefusedError("the peer closed the link during quorum SASL (wrong QuorumLearner password?)") from None


def certificate_names(peercert: dict | None, host: str) -> bool:
    """Whether a verified certificate's subjectAltName (DNS or IP) names `host`; a DNS
    name may start with one wildcard label."""
    for kind, value in (peercert or {}).get("subjectAltName", ()):
        if kind == "IP Address" and _same_ip(value, host):
            return True
        if kind == "DNS":
            name, want = value.lower().rstrip("."), host.lower().rstrip(".")
            if name == want or (name.startswith("*.") and "." in want and want.split(".", 1)[1] == name[2:]):
                return True
    return False


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.strip()) == ipaddress.ip_address(b)
    except ValueError:
        return False


async def authenticate_from(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    security: LinkSecurity,
    sender: int,
    sender_host: str | None,
) -> None:
    """Acceptor side, after reading the dialer's claimed sid (configured at
    `sender_host`; None: not a member). Raises LinkRefusedError."""
    if sender_host is None:
        raise LinkRefusedError(f"a link claims server id {sender}, which is not in the ensemble")
    if (
        security.server_ssl is not None
        and security.verify_peer_host
        and not certificate_names(writer.get_extra_info("peercert"), sender_host)
    ):
        raise LinkRefusedError(
            f"a link claiming server id {sender} shows a certificate that does "
            f"not name {sender_host}, that member's host "
            "(ssl.quorum.hostnameVerification)"
        )
    if security.sasl_users is None:
        return
    server = DigestMD5Server(security.sasl_users)

    async def exchange() -> None:
        while not server.complete:
            _write_token(writer, server.evaluate(await _read_token(reader)))
        await writer.drain()

    try:
        await asyncio.wait_for(exchange(), security.timeout)
    except SaslError as e:
        raise LinkRefusedError(f"a link claiming server id {sender} failed quorum SASL: {e}") from None
    except TimeoutError:
        raise LinkRefusedError(
            f"a link claiming server id {sender} did not finish quorum SASL within {security.timeout}s"
        ) from None
    except asyncio.IncompleteReadError:
        raise LinkRefusedError(f"a link claiming server id {sender} closed during quorum SASL") from None
