"""DIGEST-MD5 (RFC 2831) as coord's server speaks it, checked against puresasl (the client
kazoo uses, written by others) and against coord's own client side."""

from __future__ import annotations

import pytest
from puresasl.client import SASLClient

from coord.security.digest_md5 import MAX_RESPONSE, DigestMD5Client, DigestMD5Server, SaslError, parse_directives

USERS = {"bob": "bobsecret", "zoë": "pässword"}


def _puresasl(user: str, password: str) -> SASLClient:
    return SASLClient(host="zk-sasl-md5", service="zookeeper", mechanism="DIGEST-MD5", username=user, password=password)


def test_puresasl_client_authenticates_and_checks_our_rspauth() -> None:
    server, client = DigestMD5Server(USERS), _puresasl("bob", "bobsecret")
    challenge = server.evaluate(client.process(None) or b"")
    assert b"nonce=" in challenge and b'qop="auth"' in challenge
    final = server.evaluate(client.process(challenge))
    assert server.complete and server.authorization_id == "bob"
    assert client.process(final) is None and client.complete  # rspauth verified


def test_wrong_password_and_unknown_user_are_refused_alike() -> None:
    for user, password in (("bob", "nope"), ("mallory", "bobsecret")):
        server, client = DigestMD5Server(USERS), _puresasl(user, password)
        challenge = server.evaluate(b"")
        with pytest.raises(SaslError, match="wrong username or password"):
            server.evaluate(client.process(challenge))
        assert not server.complete and server.authorization_id is None


def test_our_client_and_server_agree_and_the_client_checks_the_server() -> None:
    server, client = DigestMD5Server(USERS), DigestMD5Client("zoë", "pässword")
    final = server.evaluate(client.evaluate(server.evaluate(client.initial())))
    client.evaluate(final)
    assert client.complete and server.authorization_id == "zoë"
    # A server that does not know the password cannot produce a valid rspauth.
    impostor, client = DigestMD5Server({"bob": "other"}), DigestMD5Client("bob", "bobsecret")
    challenge = impostor.evaluate(client.initial())
    response = client.evaluate(challenge)
    with pytest.raises(SaslError):
        impostor.evaluate(response)
    with pytest.raises(SaslError, match="rspauth"):
        client.evaluate(b"rspauth=" + b"0" * 32)


def test_another_mechanisms_initial_response_is_refused_clearly() -> None:
    with pytest.raises(SaslError, match="another mechanism"):
        DigestMD5Server(USERS).evaluate(b"\0bob\0bobsecret")  # SASL PLAIN


def test_a_huge_response_is_refused_before_parsing() -> None:
    server = DigestMD5Server(USERS)
    server.evaluate(b"")
    with pytest.raises(SaslError, match="4096"):
        server.evaluate(b"username=" + b"a" * MAX_RESPONSE)


def test_replaying_a_response_against_a_new_nonce_fails() -> None:
    first, client = DigestMD5Server(USERS), _puresasl("bob", "bobsecret")
    response = client.process(first.evaluate(b""))
    first.evaluate(response)
    second = DigestMD5Server(USERS)
    second.evaluate(b"")
    with pytest.raises(SaslError, match="nonce"):
        second.evaluate(response)


def test_the_exchange_cannot_go_on_after_it_is_over() -> None:
    server, client = DigestMD5Server(USERS), _puresasl("bob", "bobsecret")
    server.evaluate(client.process(server.evaluate(b"")))
    with pytest.raises(SaslError, match="over"):
        server.evaluate(b"")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("response"), "lacks response"),
        (lambda d: d.update({"digest-uri": b"ldap/zk-sasl-md5"}), "digest-uri"),
        (lambda d: d.update({"qop": b"auth-conf"}), "qop"),
        (lambda d: d.update({"nc": b"00000002"}), "nonce count"),
        (lambda d: d.update({"realm": b"elsewhere"}), "realm"),
    ],
)
def test_malformed_responses_name_what_is_wrong(mutate, message) -> None:
    server, client = DigestMD5Server(USERS), _puresasl("bob", "bobsecret")
    fields = parse_directives(client.process(server.evaluate(b"")))
    mutate(fields)
    token = b",".join(k.encode() + b'="' + v + b'"' for k, v in fields.items())
    with pytest.raises(SaslError, match=message):
        server.evaluate(token)


def test_directives_parse_quotes_escapes_and_refuse_repeats() -> None:
    assert parse_directives(b'a=1, b="x,\\"y", c=z') == {"a": b"1", "b": b'x,"y', "c": b"z"}
    with pytest.raises(SaslError, match="twice"):
        parse_directives(b"a=1,a=2")
    with pytest.raises(SaslError, match="unterminated"):
        parse_directives(b'a="open')
