"""ZooKeeper's security settings and JAAS files as `coord start` reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from coord.security.jaas import JaasError, parse_jaas
from coord.security.settings import SecurityConfigError, parse_settings
from coord.server.config import ConfigError, ServerConfig
from tests.coord_security.conftest import JAAS, SUPER_DIGEST, Pki


def test_jaas_sections_users_and_logins() -> None:
    sections = parse_jaas(JAAS)
    assert sections["Server"].users == {"super": "adminsecret", "bob": "bobsecret", "carol": "carolsecret"}
    assert sections["Server"].modules == ["org.apache.zookeeper.server.auth.DigestLoginModule"]
    assert (sections["QuorumLearner"].username, sections["QuorumLearner"].password) == ("zkpeer", "peersecret")
    assert parse_jaas('A { m required k="a \\" b"; n optional; };')["A"].options == {"k": 'a " b'}


@pytest.mark.parametrize("text", ['Server { m required user_a="x" };', "Server {", "Server { m required user_a= ; };"])
def test_broken_jaas_files_are_refused(text: str) -> None:
    with pytest.raises(JaasError):
        parse_jaas(text)


def test_toml_dotted_keys_come_back_as_zookeeper_names(tmp_path: Path, pki: Pki) -> None:
    conf = tmp_path / "coord.toml"
    conf.write_text(f"""[coord]
client_port = 2181
[coord.security]
secureClientPort = 2281
ssl.keyStore.location = "{pki.server.keystore}"
ssl.trustStore.location = "{pki.ca.cert}"
ssl.clientAuth = "want"
"zookeeper.DigestAuthenticationProvider.superDigest" = "{SUPER_DIGEST}"
""")
    config = ServerConfig.from_toml(conf, security={"ssl.clientAuth": "none"})
    settings = config.security_settings
    assert settings.secure_client_port == 2281
    assert settings.client_tls is not None and settings.client_tls.client_auth == "none"
    assert settings.super_digest == tuple(SUPER_DIGEST.split(":", 1))


@pytest.mark.parametrize(
    "values, message",
    [
        ({"ssl.keystore.location": "x"}, "unknown security settings"),
        ({"secureClientPort": "2281"}, "needs ssl.keyStore.location"),
        ({"sslQuorum": "true"}, "ssl.quorum.keyStore.location"),
        ({"sslQuorum": "yes"}, "true or false"),
        ({"enforce.auth.enabled": "true", "enforce.auth.schemes": "sasl"}, "no Server section"),
        ({"quorum.auth.enableSasl": "true"}, "QuorumServer"),
        ({"zookeeper.DigestAuthenticationProvider.superDigest": "super:secret"}, "base64"),
    ],
)
def test_settings_that_cannot_work_are_named(values: dict, message: str) -> None:
    with pytest.raises(SecurityConfigError, match=message):
        parse_settings(values)


def test_keystore_kinds_and_files_are_checked(pki: Pki, tmp_path: Path) -> None:
    base = {"ssl.keyStore.location": str(pki.server.keystore)}
    with pytest.raises(SecurityConfigError, match="only PEM"):
        parse_settings({**base, "ssl.keyStore.type": "JKS", "ssl.clientAuth": "none"})
    with pytest.raises(SecurityConfigError, match=r"trustStore\.location"):
        parse_settings(base)  # clientAuth defaults to need, as ZooKeeper's
    with pytest.raises(SecurityConfigError, match="not a readable file"):
        parse_settings({"ssl.keyStore.location": str(tmp_path / "missing.pem")})
    with pytest.raises(ConfigError, match="unknown security settings"):
        ServerConfig(security={"nope": "1"})


def test_an_encrypted_keystore_opens_with_its_password(pki: Pki, tmp_path: Path) -> None:
    import ssl

    from cryptography.hazmat.primitives import serialization

    from coord.security.tls import server_context

    key = serialization.load_pem_private_key(pki.server.key.read_bytes(), None)
    store = tmp_path / "encrypted.pem"
    store.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"storepass"),
        )
        + pki.server.cert.read_bytes()
    )
    base = {"ssl.keyStore.location": str(store), "ssl.clientAuth": "none"}
    tls = parse_settings({**base, "ssl.keyStore.password": "storepass"}).client_tls
    assert tls is not None and server_context(tls).verify_mode == ssl.CERT_NONE
    wrong = parse_settings({**base, "ssl.keyStore.password": "guess"}).client_tls
    assert wrong is not None
    with pytest.raises(ssl.SSLError):
        server_context(wrong)


def test_a_certificate_names_a_host_by_ip_or_dns() -> None:
    from coord.zab.link_security import certificate_names

    cert = {"subjectAltName": (("DNS", "*.zk.example"), ("DNS", "a.example"), ("IP Address", "10.0.0.1"))}
    assert certificate_names(cert, "10.0.0.1") and certificate_names(cert, "A.example")
    assert certificate_names(cert, "b.zk.example")
    assert not certificate_names(cert, "zk.example") and not certificate_names(cert, "x.b.zk.example")
    assert not certificate_names(cert, "10.0.0.2") and not certificate_names(None, "10.0.0.1")
