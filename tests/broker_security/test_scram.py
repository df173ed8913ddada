"""SCRAM against RFC 7677's SCRAM-SHA-256 example exchange (user "user", password "pencil"): our
client sends exactly the RFC's messages, our server answers exactly the RFC's, and each side
refuses the other's forgeries."""

from __future__ import annotations

import base64

import pytest

from broker.security.scram_server import AuthenticationFailedError, ScramServer, format_credential, parse_credential
from client.scram import ScramClient, ScramError, credential

CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO"
SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_FIRST = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
CLIENT_FINAL = (
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def test_the_client_sends_rfc_7677s_messages():
    client = ScramClient("SCRAM-SHA-256", "user", "pencil", client_nonce=CLIENT_NONCE)
    assert client.first() == CLIENT_FIRST
    assert client.final(SERVER_FIRST) == CLIENT_FINAL
    client.verify(SERVER_FINAL)
    with pytest.raises(ScramError, match="signature"):
        client.verify(b"v=" + base64.b64encode(b"\0" * 32))


async def _lookup_pencil(mechanism: str, user: str):
    return credential(mechanism, "pencil", 4096, salt=SALT) if user == "user" else None


async def test_the_server_answers_rfc_7677s_messages_and_refuses_a_wrong_proof():
    server = ScramServer("SCRAM-SHA-256", server_nonce=SERVER_NONCE)
    assert await server.first(CLIENT_FIRST, _lookup_pencil) == SERVER_FIRST
    assert server.final(CLIENT_FINAL) == SERVER_FINAL
    wrong = ScramServer("SCRAM-SHA-256", server_nonce=SERVER_NONCE)
    await wrong.first(CLIENT_FIRST, _lookup_pencil)
    with pytest.raises(AuthenticationFailedError, match="invalid credentials"):
        wrong.final(CLIENT_FINAL[:-8] + b"AAAAAAA=")
    unknown = ScramServer("SCRAM-SHA-256", server_nonce=SERVER_NONCE)
    await unknown.first(b"n,,n=nobody,r=" + CLIENT_NONCE.encode(), _lookup_pencil)  # answered like a real user
    with pytest.raises(AuthenticationFailedError):
        unknown.final(CLIENT_FINAL)


def test_kafkas_credential_text_round_trips():
    cred = credential("SCRAM-SHA-512", "secret", 8192)
    text = format_credential(cred)
    assert text.startswith("salt=") and text.endswith(",iterations=8192")
    assert parse_credential(text) == cred
