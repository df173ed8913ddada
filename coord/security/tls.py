"""SSL contexts from ZooKeeper-style TLS settings (PEM keystore and truststore).

The server context serves the secure client port or accepts quorum links; the quorum
client context dials a quorum peer (it presents this member's certificate: peers always
authenticate each other, as ZooKeeper's quorum TLS does); `client_context` is a session
client's (a broker, the CLI) dialing a secureClientPort, with ZooKeeper's client names
(`zookeeper.ssl.keyStore.location`, ...) mapped by the caller. Also the certificate subject
as ZooKeeper's x509 provider names it (the `x509` ACL id).

This module must never weaken verification silently: `clientAuth=none` and
`hostnameVerification=false` are the only ways to verify less, and both are explicit.
"""

from __future__ import annotations

import ssl
from typing import Any

from coord.security.settings import TlsSettings

_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
_VERIFY = {"need": ssl.CERT_REQUIRED, "want": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}


def _load(ctx: ssl.SSLContext, tls: TlsSettings) -> ssl.SSLContext:
    ctx.minimum_version = _VERSIONS[tls.protocol]
    # ZooKeeper's PEM keystore: the private key and the certificate chain in one file.
    ctx.load_cert_chain(str(tls.keystore), password=tls.keystore_password)
    if tls.truststore is not None:
        ctx.load_verify_locations(cafile=str(tls.truststore))
    if tls.ciphers:
        ctx.set_ciphers(tls.ciphers)
    return ctx


def server_context(tls: TlsSettings) -> ssl.SSLContext:
    ctx = _load(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), tls)
    ctx.verify_mode = _VERIFY[tls.client_auth]
    return ctx


def quorum_client_context(tls: TlsSettings) -> ssl.SSLContext:
    """Dialing a peer: its certificate must chain to the truststore (and name its host
    unless ssl.quorum.hostnameVerification=false); ours goes with the handshake."""
    ctx = _load(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), tls)
    ctx.check_hostname = tls.hostname_verification
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(
    truststore: str | None,
    keystore: str | None = None,
    keystore_password: str | None = None,
    hostname_verification: bool = True,
    protocol: str = "TLSv1.2",
) -> ssl.SSLContext:
    """A session client's context: the server's certificate must chain to `truststore`
    (the system CAs without one) and name the host dialed unless hostname_verification is
    off; `keystore` (PEM key and chain in one file) is shown when the server asks for a
    client certificate (ssl.clientAuth=need/want), which gives the session its x509 id.
    ValueError names a protocol we do not offer; OSError/SSLError a file that fails."""
    if protocol not in _VERSIONS:
        raise ValueError(f"TLS protocol {protocol!r}: expected one of {', '.join(_VERSIONS)}")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = _VERSIONS[protocol]
    if truststore:
        ctx.load_verify_locations(cafile=truststore)
    else:
        ctx.load_default_certs()
    if keystore:
        ctx.load_cert_chain(keystore, password=keystore_password)
    ctx.check_hostname = hostname_verification
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


_RDN_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
}


def subject_of(peercert: dict[str, Any] | None) -> str | None:
    """A client certificate's subject as ZooKeeper's x509 provider names it (RFC 2253:
    most specific first, e.g. CN=alice,O=example), or None without a certificate."""
    if not peercert or not peercert.get("subject"):
        return None
    return ",".join(f"{_RDN_NAMES.get(k, k)}={v}" for rdn in reversed(peercert["subject"]) for k, v in rdn)
