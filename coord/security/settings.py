"""ZooKeeper's security settings, by ZooKeeper's names, checked once at start.

Input is a flat mapping of ZooKeeper's names (zoo.cfg keys and `-D` system properties)
to values; a TOML table with dotted keys (`ssl.keyStore.location = "..."`) arrives
nested and is flattened back to the dotted name. Only PEM key material is supported
(ZooKeeper 3.8's `ssl.keyStore.type=PEM`): a keystore file holds the private key and
its certificate chain, a truststore file the CA certificates to trust.

This module only reads and checks values (and the JAAS file); it must never open a
socket or build an SSL context.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coord.security.jaas import JaasError, JaasSection, parse_jaas


class SecurityConfigError(ValueError):
    """A security setting that cannot work; the message names the setting."""


CLIENT_AUTH = ("need", "want", "none")


@dataclass(frozen=True)
class TlsSettings:
    """One side's TLS material: the client port's `ssl.*` or the quorum's `ssl.quorum.*`."""

    keystore: Path
    keystore_password: str | None = None
    truststore: Path | None = None
    client_auth: str = "need"  # need | want | none
    protocol: str = "TLSv1.2"  # the lowest version accepted
    ciphers: str | None = None
    hostname_verification: bool = True  # quorum: the peer's certificate names its host
    handshake_timeout: float = 10.0


@dataclass(frozen=True)
class SecuritySettings:
    secure_client_port: int | None = None
    client_tls: TlsSettings | None = None
    ssl_quorum: bool = False
    quorum_tls: TlsSettings | None = None
    super_digest: tuple[str, str] | None = None  # ("super", base64 sha1)
    super_user: str | None = None  # zookeeper.superUser (a SASL id)
    sasl_users: dict[str, str] | None = None  # JAAS Server section's user_<name>
    enforce_schemes: tuple[str, ...] = ()  # authentication every session needs
    quorum_sasl: bool = False
    quorum_learner: JaasSection | None = None
    quorum_server_users: dict[str, str] = field(default_factory=dict)


_TLS_KEYS = (
    "keyStore.location",
    "keyStore.password",
    "keyStore.type",
    "trustStore.location",
    "trustStore.password",
    "trustStore.type",
    "clientAuth",
    "protocol",
    "enabledProtocols",
    "ciphersuites",
    "hostnameVerification",
    "handshakeDetectionTimeoutMillis",
)
KNOWN = frozenset(
    {
        "secureClientPort",
        "sslQuorum",
        "zookeeper.DigestAuthenticationProvider.superDigest",
        "zookeeper.superUser",
        "enforce.auth.enabled",
        "enforce.auth.schemes",
        "zookeeper.sessionRequireClientSASLAuth",
        "requireClientAuthScheme",
        "quorum.auth.enableSasl",
        "quorum.auth.learnerRequireSasl",
        "quorum.auth.serverRequireSasl",
        "quorum.auth.learner.saslLoginContext",
        "quorum.auth.server.saslLoginContext",
        "zookeeper.authProvider.sasl",
        "zookeeper.authProvider.x509",
        "serverCnxnFactory",
        "zookeeper.serverCnxnFactory",
        *(f"ssl.{k}" for k in _TLS_KEYS),
        *(f"ssl.quorum.{k}" for k in _TLS_KEYS),
    }
)
# Accepted for copy-paste compatibility with a zoo.cfg; Java class names mean nothing here.
_IGNORED = ("zookeeper.authProvider.", "serverCnxnFactory", "zookeeper.serverCnxnFactory")


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A TOML table with dotted keys comes nested; ZooKeeper's names are the dotted paths."""
    out: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def _bool(props: dict[str, str], name: str, default: bool = False) -> bool:
    value = props.get(name)
    if value is None:
        return default
    if value.strip().lower() not in ("true", "false"):
        raise SecurityConfigError(f"{name}={value!r}: expected true or false")
    return value.strip().lower() == "true"


def _tls(props: dict[str, str], prefix: str, quorum: bool) -> TlsSettings | None:
    def get(key: str) -> str | None:
        return props.get(prefix + key)

    keystore = get("keyStore.location")
    if keystore is None:
        return None
    for kind in ("keyStore.type", "trustStore.type"):
        if (get(kind) or "PEM").upper() != "PEM":
            raise SecurityConfigError(
                f"{prefix}{kind}={get(kind)}: only PEM files are supported "
                "(convert a JKS/PKCS12 store with openssl or keytool)"
            )
    truststore_location = get("trustStore.location")
    paths = [Path(keystore)] + ([Path(truststore_location)] if truststore_location else [])
    for path in paths:
        if not path.is_file():
            raise SecurityConfigError(f"{prefix}: {path} is not a readable file")
    client_auth = "need" if quorum else (get("clientAuth") or "need").lower()
    if client_auth not in CLIENT_AUTH:
        raise SecurityConfigError(f"{prefix}clientAuth={client_auth}: expected need, want or none")
    truststore = paths[1] if len(paths) > 1 else None
    if client_auth != "none" and truststore is None:
        raise SecurityConfigError(
            f"{prefix}clientAuth={client_auth} needs "
            f"{prefix}trustStore.location (the CAs client certificates "
            "must chain to); set clientAuth=none to take any client"
        )
    protocol = get("protocol") or "TLSv1.2"
    if protocol not in ("TLSv1.2", "TLSv1.3", "TLS"):
        raise SecurityConfigError(f"{prefix}protocol={protocol}: expected TLSv1.2 or TLSv1.3")
    timeout_ms = int(get("handshakeDetectionTimeoutMillis") or 10000)
    return TlsSettings(
        Path(keystore),
        get("keyStore.password"),
        truststore,
        client_auth,
        "TLSv1.2" if protocol == "TLS" else protocol,
        get("ciphersuites"),
        _bool(props, prefix + "hostnameVerification", True),
        timeout_ms / 1000,
    )


def _super_digest(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    user, sep, digest = value.partition(":")
    try:
        ok = bool(sep and user) and len(base64.b64decode(digest, validate=True)) == 20
    except ValueError:
        ok = False
    if not ok:
        raise SecurityConfigError(
            "zookeeper.DigestAuthenticationProvider.superDigest must be "
            "user:base64(sha1(user:password)), as DigestAuthenticationProvider"
            " prints it"
        )
    return (user, digest)


def _jaas(path: Path | None) -> dict[str, JaasSection]:
    if path is None:
        return {}
    try:
        return parse_jaas(Path(path).read_text())
    except OSError as e:
        raise SecurityConfigError(f"jaas_config {path}: {e}") from None
    except JaasError as e:
        raise SecurityConfigError(f"jaas_config {path}: {e}") from None


def parse_settings(values: dict[str, Any], jaas_config: Path | None = None) -> SecuritySettings:
    """ZooKeeper's names (flat or nested) and an optional JAAS file -> checked settings."""
    props = flatten(values)
    unknown = sorted(k for k in props if k not in KNOWN and not k.startswith(_IGNORED))
    if unknown:
        raise SecurityConfigError(f"unknown security settings {unknown}")
    port = props.get("secureClientPort")
    client_tls = _tls(props, "ssl.", quorum=False)
    if port is not None and client_tls is None:
        raise SecurityConfigError(
            "secureClientPort needs ssl.keyStore.location (a PEM file with the server's key and certificate)"
        )
    ssl_quorum = _bool(props, "sslQuorum")
    quorum_tls = _tls(props, "ssl.quorum.", quorum=True)
    if ssl_quorum and quorum_tls is None:
        raise SecurityConfigError(
            "sslQuorum=true needs ssl.quorum.keyStore.location and ssl.quorum.trustStore.location"
        )
    sections = _jaas(jaas_config)
    server = sections.get("Server")
    schemes: tuple[str, ...] = ()
    if _bool(props, "enforce.auth.enabled"):
        schemes = tuple(s.strip() for s in props.get("enforce.auth.schemes", "").split(",") if s.strip())
        if not schemes:
            raise SecurityConfigError("enforce.auth.enabled=true needs enforce.auth.schemes")
    if (
        _bool(props, "zookeeper.sessionRequireClientSASLAuth")
        or props.get("requireClientAuthScheme", "").strip() == "sasl"
    ):
        schemes = tuple(dict.fromkeys((*schemes, "sasl")))
    if "sasl" in schemes and (server is None or not server.users):
        raise SecurityConfigError(
            'SASL is required but the JAAS file has no Server section with user_<name>="password" entries (jaas_config)'
        )
    quorum_sasl = _bool(props, "quorum.auth.enableSasl")
    learner = sections.get(props.get("quorum.auth.learner.saslLoginContext", "QuorumLearner"))
    qserver = sections.get(props.get("quorum.auth.server.saslLoginContext", "QuorumServer"))
    if quorum_sasl and (learner is None or learner.username is None or qserver is None or not qserver.users):
        raise SecurityConfigError(
            "quorum.auth.enableSasl=true needs QuorumServer (user_<name>) "
            "and QuorumLearner (username, password) sections in the JAAS "
            "file (jaas_config)"
        )
    return SecuritySettings(
        secure_client_port=int(port) if port is not None else None,
        client_tls=client_tls,
        ssl_quorum=ssl_quorum,
        quorum_tls=quorum_tls if ssl_quorum else None,
        super_digest=_super_digest(props.get("zookeeper.DigestAuthenticationProvider.superDigest")),
        super_user=props.get("zookeeper.superUser"),
        sasl_users=dict(server.users) if server is not None and server.users else None,
        enforce_schemes=schemes,
        quorum_sasl=quorum_sasl,
        quorum_learner=learner if quorum_sasl else None,
        quorum_server_users=dict(qserver.users) if quorum_sasl and qserver else {},
    )
