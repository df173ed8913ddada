"""A connection's ids without a socket: digest, super digest, SASL, x509, enforcement."""

from __future__ import annotations

import pytest
from puresasl.client import SASLClient

from coord.protocol.errors import ErrorCode
from coord.protocol.opcodes import OpCode
from coord.security.digest_md5 import SaslError
from coord.security.settings import parse_settings
from coord.server.acl import SUPER, allowed
from coord.server.client_auth import ClientAuth
from tests.coord_security.conftest import SUPER_DIGEST

LOCKED = [[31, "digest", "dave:abc"]]


def test_super_digest_grants_super_only_with_the_right_password() -> None:
    settings = parse_settings({"zookeeper.DigestAuthenticationProvider.superDigest": SUPER_DIGEST})
    right, wrong = ClientAuth(settings, "10.0.0.1"), ClientAuth(settings, "10.0.0.1")
    assert right.digest("digest", b"super:adminsecret") and wrong.digest("digest", b"super:x")
    assert SUPER in right.ids and allowed(LOCKED, 1, right.ids)
    assert SUPER not in wrong.ids and not allowed(LOCKED, 1, wrong.ids)
    assert not right.digest("ip", b"10.0.0.1")  # unknown schemes are refused


def test_sasl_user_and_super_user_and_enforcement(jaas_file) -> None:
    settings = parse_settings(
        {"enforce.auth.enabled": "true", "enforce.auth.schemes": "sasl", "zookeeper.superUser": "super"}, jaas_file
    )
    auth = ClientAuth(settings, "127.0.0.1", "CN=client,O=x")
    assert auth.ids == [("ip", "127.0.0.1"), ("x509", "CN=client,O=x")]
    assert not auth.allows(OpCode.getData) and auth.allows(OpCode.sasl)
    client = SASLClient(
        host="zk-sasl-md5", service="zookeeper", mechanism="DIGEST-MD5", username="super", password="adminsecret"
    )
    client.process(auth.sasl_step(client.process(auth.sasl_step(b""))))
    assert client.complete and auth.sasl_user == "super"
    assert ("sasl", "super") in auth.ids and SUPER in auth.ids
    assert auth.allows(OpCode.getData)
    failed = ClientAuth(settings, "127.0.0.1")
    with pytest.raises(SaslError):
        failed.sasl_step(b"\0super\0adminsecret")
    assert failed.sasl_failure_code == ErrorCode.SESSIONCLOSEDREQUIRESASLAUTH
    assert failed.ids == [("ip", "127.0.0.1")]
