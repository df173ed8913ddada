"""TLS contexts from Kafka's ssl.* settings in PEM form: the listener's server context, and
the client context a broker uses to reach the others on a TLS inter-broker listener.

Keys and certificates come either as files (`ssl.keystore.location`: one PEM file with the
private key and the certificate chain; `ssl.truststore.location`: PEM CA certificates) or
as PEM text in the settings (`ssl.keystore.certificate.chain`, `ssl.keystore.key`,
`ssl.truststore.certificates`); `ssl.keystore.type` and `ssl.truststore.type` must be PEM
(JKS and PKCS12 are Java's). `ssl.client.auth` = required / requested / none sets whether
client certificates are demanded. The principal of a client certificate is its subject as
RFC 2253 prints it ("User:CN=alice,O=Acme"), Kafka's default mapping. This module must never
accept a connection: it only builds contexts and names principals.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from typing import Any

from broker.config import ConfigError
from broker.security.settings import setting

CLIENT_AUTH = {"required": ssl.CERT_REQUIRED, "requested": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}


def _load_key_pair(context: ssl.SSLContext, config: Any, listener: str) -> None:
    location = setting(config, listener, "ssl.keystore.location")
    chain = setting(config, listener, "ssl.keystore.certificate.chain")
    key = setting(config, listener, "ssl.keystore.key")
    password = setting(config, listener, "ssl.key.password")
    if location:
        context.load_cert_chain(location, password=password)
    elif chain and key:
        # The ssl module loads keys from files only: a private file, removed at once.
        fd, path = tempfile.mkstemp(prefix="pybroker-key-", suffix=".pem")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(key.strip() + "\n" + chain.strip() + "\n")
            context.load_cert_chain(path, password=password)
        finally:
            os.unlink(path)
    else:
        raise ConfigError(
            f"listener {listener} needs a key and certificate: ssl.keystore.location, or "
            "ssl.keystore.key with ssl.keystore.certificate.chain"
        )


def _load_trust(context: ssl.SSLContext, config: Any, listener: str) -> bool:
    location = setting(config, listener, "ssl.truststore.location")
    certificates = setting(config, listener, "ssl.truststore.certificates")
    if location:
        context.load_verify_locations(cafile=location)
    if certificates:
        context.load_verify_locations(cadata=certificates)
    return bool(location or certificates)


def _check_types(config: Any, listener: str) -> None:
    for name in ("ssl.keystore.type", "ssl.truststore.type"):
        value = str(setting(config, listener, name) or "PEM").upper()
        if value != "PEM":
            raise ConfigError(f"{name} {value}: pybroker reads PEM only (convert with openssl or keytool)")


def server_context(config: Any, listener: str) -> ssl.SSLContext:
    """The TLS context of an SSL or SASL_SSL listener; ConfigError if its settings are unusable."""
    _check_types(config, listener)
    auth = str(setting(config, listener, "ssl.client.auth") or "none").lower()
    if auth not in CLIENT_AUTH:
        raise ConfigError(f"ssl.client.auth {auth!r}: expected required, requested or none")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        _load_key_pair(context, config, listener)
        trusted = _load_trust(context, config, listener)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"listener {listener}: cannot load its TLS key, certificate or truststore: {exc}") from None
    if auth != "none" and not trusted:
        raise ConfigError(
            f"listener {listener}: ssl.client.auth={auth} needs ssl.truststore.location or "
            "ssl.truststore.certificates to check client certificates against"
        )
    context.verify_mode = CLIENT_AUTH[auth]
    return context


def client_context(config: Any, listener: str) -> ssl.SSLContext:
    """The context a broker dials other brokers' `listener` with: it trusts the truststore,
    presents its own keystore (for ssl.client.auth), checks host names unless
    ssl.endpoint.identification.algorithm is empty."""
    _check_types(config, listener)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        if not _load_trust(context, config, listener):
            context.load_default_certs()
        _load_key_pair(context, config, listener)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"listener {listener}: cannot load TLS files for inter-broker connections: {exc}") from None
    context.check_hostname = bool(setting(config, listener, "ssl.endpoint.identification.algorithm"))
    return context


# RFC 2253's short names for the attribute types Python's ssl module reports.
_SHORT = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}


def _escape(value: str) -> str:
    out = "".join("\\" + c if c in ',+"\\<>;=' else c for c in value)
    if out.startswith((" ", "#")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def certificate_principal(peercert: dict | None) -> str | None:
    """ "User:" + the subject in RFC 2253 order (most specific first), or None without a cert."""
    if not peercert or not peercert.get("subject"):
        return None
    rdns = []
    for rdn in reversed(peercert["subject"]):
        rdns.append("+".join(f"{_SHORT.get(k, k)}={_escape(v)}" for k, v in rdn))
    return "User:" + ",".join(rdns)
