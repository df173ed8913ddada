"""How a client connection secures itself: kafka-python's settings turned into one value.

`security_protocol` is Kafka's (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); TLS takes an
`ssl_context` or builds one from `ssl_cafile` / `ssl_certfile` / `ssl_keyfile`; SASL takes
`sasl_mechanism` (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) with `sasl_plain_username` and
`sasl_plain_password` (kafka-python's names, used by every mechanism). `from_properties`
reads Kafka's client property names (the CLI's --command-config). This module must never
open a socket: `conn.BrokerConnection` does, with what this says.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from client.errors import ClientError
from client.jaas import JaasError, parse_jaas_options

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class SecurityConfigError(ClientError):
    """Security settings that cannot work together; the message says which."""


@dataclass(frozen=True)
class ClientSecurity:
    security_protocol: str = "PLAINTEXT"
    ssl_context: ssl.SSLContext | None = None
    ssl_check_hostname: bool = True
    sasl_mechanism: str | None = None
    sasl_plain_username: str | None = None
    sasl_plain_password: str | None = None

    @property
    def tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def settings(self) -> dict[str, object]:
        """The kafka-python-style keyword arguments that make this again (for the clients' **security)."""
        return {
            "security_protocol": self.security_protocol,
            "ssl_context": self.ssl_context,
            "ssl_check_hostname": self.ssl_check_hostname,
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.sasl_plain_username,
            "sasl_plain_password": self.sasl_plain_password,
        }

    @property
    def sasl(self) -> bool:
        return self.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")


PLAINTEXT = ClientSecurity()


def client_security(
    security_protocol: str = "PLAINTEXT",
    *,
    ssl_context: ssl.SSLContext | None = None,
    ssl_cafile: str | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    ssl_password: str | None = None,
    ssl_check_hostname: bool = True,
    sasl_mechanism: str | None = None,
    sasl_plain_username: str | None = None,
    sasl_plain_password: str | None = None,
) -> ClientSecurity:
    """Check kafka-python-style settings and build the TLS context they describe."""
    protocol = security_protocol.upper()
    if protocol not in PROTOCOLS:
        raise SecurityConfigError(f"security_protocol {security_protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    context = ssl_context
    if protocol in ("SSL", "SASL_SSL") and context is None:
        try:
            context = ssl.create_default_context(cafile=ssl_cafile)
            if ssl_certfile:
                context.load_cert_chain(ssl_certfile, ssl_keyfile, password=ssl_password)
        except (OSError, ssl.SSLError) as exc:
            raise SecurityConfigError(f"cannot load the TLS files ({ssl_cafile}, {ssl_certfile}): {exc}") from None
        context.check_hostname = ssl_check_hostname
    mechanism = None
    if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        mechanism = (sasl_mechanism or "PLAIN").upper()
        if mechanism not in MECHANISMS:
            raise SecurityConfigError(f"sasl_mechanism {sasl_mechanism!r}: this client speaks {', '.join(MECHANISMS)}")
        if sasl_plain_username is None or sasl_plain_password is None:
            raise SecurityConfigError(f"{protocol} needs sasl_plain_username and sasl_plain_password")
    return ClientSecurity(protocol, context, ssl_check_hostname, mechanism, sasl_plain_username, sasl_plain_password)


def read_properties(path: Path) -> dict[str, str]:
    """A Java-style properties file (KEY=VALUE or KEY: VALUE, # and ! comments)."""
    out: dict[str, str] = {}
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SecurityConfigError(f"cannot read {path}: {exc.strerror}") from None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        sep = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        if sep < 0:
            raise SecurityConfigError(f"{path}: line {line!r} is not KEY=VALUE")
        out[line[:sep].strip()] = line[sep + 1 :].strip()
    return out


def _jaas_credentials(jaas: str) -> tuple[str | None, str | None]:
    try:
        options = parse_jaas_options(jaas)
    except JaasError as exc:
        raise SecurityConfigError(f"sasl.jaas.config: {exc}") from None
    return options.get("username"), options.get("password")


def from_properties(props: dict[str, str]) -> ClientSecurity:
    """Kafka's client properties (security.protocol, ssl.truststore.location, sasl.mechanism,
    sasl.jaas.config, ... and librdkafka's sasl.username / sasl.password) as a ClientSecurity."""
    username, password = props.get("sasl.username"), props.get("sasl.password")
    if "sasl.jaas.config" in props:
        username, password = _jaas_credentials(props["sasl.jaas.config"])
    check = props.get("ssl.endpoint.identification.algorithm", "https").lower() == "https"
    return client_security(
        props.get("security.protocol", "PLAINTEXT"),
        ssl_cafile=props.get("ssl.truststore.location") or props.get("ssl.ca.location"),
        ssl_certfile=props.get("ssl.keystore.location") or props.get("ssl.certificate.location"),
        ssl_keyfile=props.get("ssl.key.location"),
        ssl_password=props.get("ssl.key.password"),
        ssl_check_hostname=check,
        sasl_mechanism=props.get("sasl.mechanism") or props.get("sasl.mechanisms"),
        sasl_plain_username=username,
        sasl_plain_password=password,
    )
