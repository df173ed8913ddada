"""How this broker reaches coord: TLS and SASL as Kafka's ZooKeeper client configures them, and
the znode ACLs of `zookeeper.set.acl`.

TLS: `zookeeper.ssl.client.enable=true` with `zookeeper.ssl.truststore.location` (PEM CA
certificates; the system CAs without it) and, for a server that asks for client certificates,
`zookeeper.ssl.keystore.location` (one PEM file: key and chain; `zookeeper.ssl.keystore.password`
decrypts the key). `zookeeper.ssl.endpoint.identification.algorithm` HTTPS (the default) checks
the server's certificate names the host dialed, "" does not. `zookeeper.clientCnxnSocket` is
accepted with the Netty (or NIO) class name a Kafka configuration carries and means nothing
here: asyncio does the TLS.

SASL: the JAAS file named by `java.security.auth.login.config` (Java's system property, here a
setting) with a `Client` section (`zookeeper.sasl.clientconfig` names another) holding
`username` and `password`: the broker logs in with DIGEST-MD5 as ZooKeeper's Java client does.
`zookeeper.sasl.client=false` ignores the file.

ACLs (Kafka's ZkData.defaultAcls): with `zookeeper.set.acl=true` every znode the broker creates
gets ALL for its creator's authenticated ids (the `auth` scheme: `sasl:<user>`, `x509:<subject>`)
and READ for world:anyone, except under the sensitive roots (/config/users, /config/brokers,
/delegation_token), which nobody else may read, and /consumers, which stays open. So every
broker must authenticate as the same identity (one SASL user, or certificates with one subject),
as Kafka requires. The TLS and SASL work is coord's own client side
(`coord.security.client_settings`, ZooKeeper's names); this module maps Kafka's names onto it.
It must never connect: it only builds what `CoordClient` is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from broker.config import ConfigError
from coord.client.chroot import split_connect_string
from coord.protocol import records as R
from coord.protocol.opcodes import Perms
from coord.security.client_settings import ClientSecurity, client_security
from coord.security.settings import SecurityConfigError

# Kafka's ZkData.SensitiveRootPaths and its open consumers path.
SENSITIVE_ROOTS = ("/config/users", "/config/brokers", "/delegation_token")
OPEN_PATH = "/consumers"

CREATOR_ALL = R.ACL(int(Perms.ALL), R.Id("auth", ""))
READ_ALL = R.ACL(int(Perms.READ), R.Id("world", "anyone"))

# Kafka's broker setting (our field) -> ZooKeeper's client property.
_ZOOKEEPER_NAMES = {
    "zookeeper_ssl_client_enable": "zookeeper.client.secure",
    "zookeeper_client_cnxn_socket": "zookeeper.clientCnxnSocket",
    "zookeeper_ssl_keystore_location": "zookeeper.ssl.keyStore.location",
    "zookeeper_ssl_keystore_password": "zookeeper.ssl.keyStore.password",
    "zookeeper_ssl_keystore_type": "zookeeper.ssl.keyStore.type",
    "zookeeper_ssl_truststore_location": "zookeeper.ssl.trustStore.location",
    "zookeeper_ssl_truststore_password": "zookeeper.ssl.trustStore.password",
    "zookeeper_ssl_truststore_type": "zookeeper.ssl.trustStore.type",
    "zookeeper_ssl_protocol": "zookeeper.ssl.protocol",
    "zookeeper_sasl_client": "zookeeper.sasl.client",
    "zookeeper_sasl_clientconfig": "zookeeper.sasl.clientconfig",
    "java_security_auth_login_config": "java.security.auth.login.config",
}
_KAFKA_SPELLING = {
    zk: "zookeeper.clientCnxnSocket" if field == "zookeeper_client_cnxn_socket" else field.replace("_", ".")
    for field, zk in _ZOOKEEPER_NAMES.items()
}


def sensitive(path: str) -> bool:
    return any(path == root or path.startswith(root + "/") for root in SENSITIVE_ROOTS)


def kafka_acls(path: str) -> list[R.ACL]:
    """The ACL a secure Kafka cluster gives `path`."""
    if path == OPEN_PATH:
        return list(R.OPEN_ACL_UNSAFE)
    return [CREATOR_ALL] if sensitive(path) else [CREATOR_ALL, READ_ALL]


class CoordLink:
    """This broker's security towards coord: TLS, SASL login, and the ACLs it creates with."""

    def __init__(self, security: ClientSecurity, set_acl: bool) -> None:
        self.security = security
        self.set_acl = set_acl

    @property
    def identity(self) -> str:
        return self.security.identity

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for `CoordClient`."""
        provider: Callable[[str], list[R.ACL]] | None = kafka_acls if self.set_acl else None
        return {**self.security.options(), "acl_provider": provider}


def coord_link(config: Any) -> CoordLink:
    """This broker's way to coord from its settings; ConfigError for settings that cannot work."""
    try:
        split_connect_string(config.coord_connect)
    except ValueError as exc:
        raise ConfigError(f"zookeeper.connect: {exc}") from None
    props: dict[str, Any] = {
        zk: getattr(config, field) for field, zk in _ZOOKEEPER_NAMES.items() if getattr(config, field) is not None
    }
    algorithm = str(config.zookeeper_ssl_endpoint_identification_algorithm or "").upper()
    if algorithm not in ("", "HTTPS"):
        raise ConfigError(f'zookeeper.ssl.endpoint.identification.algorithm {algorithm!r}: expected HTTPS or ""')
    props["zookeeper.ssl.hostnameVerification"] = algorithm == "HTTPS"
    try:
        security = client_security(props)
    except SecurityConfigError as exc:
        message = str(exc)
        for zk, kafka in _KAFKA_SPELLING.items():
            message = message.replace(zk, kafka)
        raise ConfigError(message) from None
    if config.zookeeper_set_acl and security.sasl_user is None and not security.certificate:
        raise ConfigError(
            "zookeeper.set.acl=true needs an identity at coord: a JAAS file "
            "(java.security.auth.login.config) with a Client section, or "
            "zookeeper.ssl.client.enable=true with zookeeper.ssl.keystore.location (a client certificate)"
        )
    return CoordLink(security, config.zookeeper_set_acl)
