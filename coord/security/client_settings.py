"""A session client's security, from ZooKeeper's client property names (zkCli's `-D` flags).

    zookeeper.client.secure=true                  TLS to the server's secureClientPort
    zookeeper.ssl.trustStore.location=ca.pem      PEM CA certificates (else the system CAs)
    zookeeper.ssl.keyStore.location=me.pem        PEM key and chain: the client certificate
    zookeeper.ssl.keyStore.password=...           the PEM key's password
    zookeeper.ssl.hostnameVerification=false      do not check the server's name
    zookeeper.ssl.protocol=TLSv1.3                the lowest TLS version offered
    zookeeper.clientCnxnSocket=...Netty           accepted (Java's TLS needs Netty; ours does not)
    java.security.auth.login.config=jaas.conf     SASL DIGEST-MD5 with the file's Client section
    zookeeper.sasl.clientconfig=Client            ...or the section of this name
    zookeeper.sasl.client=false                   no SASL even with a JAAS file

`pybroker coord ls|get|...` takes these as `-D NAME=VALUE`; the broker maps Kafka's
`zookeeper.ssl.*` names onto them. This module reads the JAAS file and the PEM files and
builds an SSL context; it must never open a connection.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coord.security.jaas import JaasError, parse_jaas
from coord.security.settings import SecurityConfigError
from coord.security.tls import client_context

CNXN_SOCKETS = ("org.apache.zookeeper.ClientCnxnSocketNetty", "org.apache.zookeeper.ClientCnxnSocketNIO")
KNOWN = (
    "zookeeper.client.secure",
    "zookeeper.clientCnxnSocket",
    "zookeeper.ssl.keyStore.location",
    "zookeeper.ssl.keyStore.password",
    "zookeeper.ssl.keyStore.type",
    "zookeeper.ssl.trustStore.location",
    "zookeeper.ssl.trustStore.password",
    "zookeeper.ssl.trustStore.type",
    "zookeeper.ssl.hostnameVerification",
    "zookeeper.ssl.protocol",
    "zookeeper.sasl.client",
    "zookeeper.sasl.clientconfig",
    "java.security.auth.login.config",
)


@dataclass(frozen=True)
class ClientSecurity:
    ssl_context: ssl.SSLContext | None = None
    certificate: bool = False  # a client certificate is loaded (an x509 id if asked)
    sasl_user: str | None = None
    sasl_password: str | None = None

    @property
    def identity(self) -> str:
        """Who the server will know this client as, for messages."""
        parts = ([f"sasl:{self.sasl_user}"] if self.sasl_user else []) + (
            ["x509 (its certificate)"] if self.certificate else []
        )
        return " and ".join(parts) or "anonymous"

    def options(self) -> dict[str, Any]:
        """Keyword arguments for `CoordClient`."""
        sasl = None
        if self.sasl_user is not None:
            sasl = {"mechanism": "DIGEST-MD5", "username": self.sasl_user, "password": self.sasl_password or ""}
        return {"ssl_context": self.ssl_context, "sasl_options": sasl}


def _bool(props: Mapping[str, Any], name: str, default: bool) -> bool:
    value = props.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise SecurityConfigError(f"{name}={value!r}: expected true or false")
    return text == "true"


def _tls(props: Mapping[str, Any]) -> ssl.SSLContext | None:
    if not _bool(props, "zookeeper.client.secure", False):
        return None
    for name in ("zookeeper.ssl.keyStore.type", "zookeeper.ssl.trustStore.type"):
        value = str(props.get(name) or "PEM").upper()
        if value != "PEM":
            raise SecurityConfigError(
                f"{name}={value}: only PEM key material is read (convert with openssl or keytool)"
            )
    try:
        return client_context(
            props.get("zookeeper.ssl.trustStore.location") or None,
            props.get("zookeeper.ssl.keyStore.location") or None,
            props.get("zookeeper.ssl.keyStore.password") or None,
            _bool(props, "zookeeper.ssl.hostnameVerification", True),
            str(props.get("zookeeper.ssl.protocol") or "TLSv1.2"),
        )
    except ValueError as exc:
        raise SecurityConfigError(f"zookeeper.ssl.protocol: {exc}") from None
    except (OSError, ssl.SSLError) as exc:
        raise SecurityConfigError(
            f"cannot load zookeeper.ssl.keyStore.location / zookeeper.ssl.trustStore.location: {exc}"
        ) from None


def _sasl(props: Mapping[str, Any]) -> tuple[str, str] | None:
    path = props.get("java.security.auth.login.config")
    if not path or not _bool(props, "zookeeper.sasl.client", True):
        return None
    try:
        sections = parse_jaas(Path(path).read_text())
    except OSError as exc:
        raise SecurityConfigError(f"java.security.auth.login.config {path}: {exc.strerror}") from None
    except JaasError as exc:
        raise SecurityConfigError(f"java.security.auth.login.config {path}: {exc}") from None
    name = str(props.get("zookeeper.sasl.clientconfig") or "Client")
    section = sections.get(name)
    if section is None:  # as ZooKeeper's client: no such section, no SASL
        return None
    if section.username is None or section.password is None:
        raise SecurityConfigError(
            f"java.security.auth.login.config {path}: section {name} needs "
            'username="..." and password="..." (coord speaks DIGEST-MD5 only)'
        )
    return section.username, section.password


def client_security(props: Mapping[str, Any]) -> ClientSecurity:
    """Checked client security from ZooKeeper's client property names; SecurityConfigError
    names the property that cannot work."""
    unknown = sorted(k for k in props if k not in KNOWN)
    if unknown:
        raise SecurityConfigError(f"unknown client security settings {unknown} (known: {', '.join(KNOWN)})")
    socket_class = props.get("zookeeper.clientCnxnSocket")
    if socket_class and socket_class not in CNXN_SOCKETS:
        raise SecurityConfigError(
            f"zookeeper.clientCnxnSocket={socket_class}: expected one of {', '.join(CNXN_SOCKETS)}"
        )
    context = _tls(props)
    login = _sasl(props)
    certificate = context is not None and bool(props.get("zookeeper.ssl.keyStore.location"))
    return ClientSecurity(context, certificate, *(login or (None, None)))
