"""TLS listeners (Python's ssl module) with Kafka's PEM settings: kcat with a client certificate
produces and reads back; without one (ssl.client.auth=required) it is refused; our client
connects; the principal is the certificate's subject; a TLS client on a plaintext port and a
plaintext client on a TLS port get clear errors and the broker goes on."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess

import pytest

from broker.config import BrokerConfig
from broker.security.endpoint import runtime_for
from broker.security.listeners import Listener
from client.conn import BrokerConnection
from client.errors import AuthenticationError, BrokerConnectionError
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.security import client_security
from tests.broker_security.conftest import ACLS_ON

kcat_missing = pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")


def tls_settings(authority, auth: str = "required") -> dict[str, object]:
    server = authority.issue("broker", "broker1", server=True)
    return {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(server.combined),
        "ssl.truststore.location": str(authority.pem.cert),
        "ssl.client.auth": auth,
        "auto.create.topics.enable": True,
    }


def kcat(port: int, *args: str, tls: list[str], stdin: bytes = b"", timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["kcat", "-b", f"127.0.0.1:{port}", *tls, *args], input=stdin, capture_output=True, timeout=timeout
    )


@kcat_missing
def test_kcat_with_a_client_certificate_reads_what_its_acls_allow(secure_node, authority):
    secure_node.start(
        {"SSL": ("SSL", None), "INTERNAL": ("PLAINTEXT", None)},
        {**tls_settings(authority), **ACLS_ON, "inter.broker.listener.name": "INTERNAL"},
    )
    port = secure_node.ports["SSL"]
    alice = authority.issue("alice", "alice")
    principal = "User:CN=alice,O=pybroker tests"
    secure_node.grant("INTERNAL", principal, "Write", "Read", "Create", topic="secret")
    tls = [
        "-X",
        "security.protocol=SSL",
        "-X",
        f"ssl.ca.location={authority.pem.cert}",
        "-X",
        f"ssl.certificate.location={alice.cert}",
        "-X",
        f"ssl.key.location={alice.key}",
    ]
    produced = kcat(port, "-P", "-t", "secret", "-X", "acks=all", tls=tls, stdin=b"one\ntwo\nthree\n")
    assert produced.returncode == 0 and b"Delivery failed" not in produced.stderr, produced.stderr.decode()
    read = kcat(port, "-C", "-t", "secret", "-o", "beginning", "-e", "-q", tls=tls)
    assert read.stdout.decode().split() == ["one", "two", "three"], read.stderr.decode()
    # A topic alice has no ACL for (written by an admin on INTERNAL): refused, nothing read.
    seeded = kcat(secure_node.ports["INTERNAL"], "-P", "-t", "payroll", tls=[], stdin=b"salary\n")
    assert seeded.returncode == 0, seeded.stderr.decode()
    denied = kcat(port, "-C", "-t", "payroll", "-o", "beginning", "-e", tls=tls, timeout=60)
    assert b"salary" not in denied.stdout
    assert b"authoriz" in denied.stderr.lower(), denied.stderr.decode()
    # No client certificate: the TLS handshake is refused, kcat says so and fails.
    anonymous = kcat(port, "-L", "-m", "5", tls=tls[:4], timeout=30)
    assert anonymous.returncode != 0
    assert b"SSL" in anonymous.stderr or b"ssl" in anonymous.stderr, anonymous.stderr.decode()
    assert secure_node.alive()


async def test_our_client_over_tls_and_the_wrong_protocol_on_each_port(secure_node, authority):
    secure_node.start(
        {"SSL": ("SSL", None), "PLAINTEXT": ("PLAINTEXT", None)},
        {**tls_settings(authority), "inter.broker.listener.name": "PLAINTEXT"},
    )
    tls_port, plain_port = secure_node.ports["SSL"], secure_node.ports["PLAINTEXT"]
    bob = authority.issue("bob", "bob")
    security = client_security(
        "SSL", ssl_cafile=str(authority.pem.cert), ssl_certfile=str(bob.cert), ssl_keyfile=str(bob.key)
    )
    conn = await BrokerConnection.open("127.0.0.1", tls_port, security=security)
    try:
        answer = await conn.request(ApiKey.METADATA, m.MetadataRequest(topics=None))
        assert [(b.host, b.port) for b in answer.brokers] == [("127.0.0.1", tls_port)]
    finally:
        conn.close()
    # TLS to the plaintext port: the broker reads a ClientHello as an oversized frame and closes.
    with pytest.raises(BrokerConnectionError):
        await BrokerConnection.open("127.0.0.1", plain_port, security=security, connect_timeout_ms=5000)
    # Plaintext to the TLS port: the handshake fails, the connection is closed.
    with pytest.raises(BrokerConnectionError):
        await BrokerConnection.open("127.0.0.1", tls_port, request_timeout_ms=5000)
    # An untrusted server: our client refuses it.
    with pytest.raises(AuthenticationError):
        await BrokerConnection.open("127.0.0.1", tls_port, security=client_security("SSL"))
    conn = await BrokerConnection.open("127.0.0.1", plain_port)  # the broker goes on
    conn.close()
    assert secure_node.alive()
    assert "a TLS handshake on listener PLAINTEXT (PLAINTEXT)" in secure_node.log()


async def test_the_principal_is_the_client_certificates_subject(authority, tmp_path):
    server = authority.issue("inproc", "server", server=True)
    config = BrokerConfig(
        ssl_keystore_location=str(server.combined),
        ssl_truststore_location=str(authority.pem.cert),
        ssl_client_auth="requested",
    )
    runtime = runtime_for(config, Listener("SSL", "127.0.0.1", 0, "SSL"), True, None)
    principals: asyncio.Queue = asyncio.Queue()

    async def accept(reader, writer):
        await principals.put(runtime.session(writer).principal)
        writer.close()

    srv = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=runtime.ssl_context)
    port = srv.sockets[0].getsockname()[1]
    try:
        carol = authority.issue("carol", "carol")
        for certfile, keyfile in ((str(carol.cert), str(carol.key)), (None, None)):
            context = ssl.create_default_context(cafile=str(authority.pem.cert))
            if certfile:
                context.load_cert_chain(certfile, keyfile)
            _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
            writer.close()
        assert await asyncio.wait_for(principals.get(), 10) == "User:CN=carol,O=pybroker tests"
        assert await asyncio.wait_for(principals.get(), 10) == "User:ANONYMOUS"  # requested, none given
    finally:
        srv.close()
        await srv.wait_closed()


def test_a_raw_plaintext_peer_on_a_tls_port_is_closed(secure_node, authority):
    secure_node.start({"SSL": ("SSL", None)}, tls_settings(authority, auth="none"))
    with socket.create_connection(("127.0.0.1", secure_node.ports["SSL"]), timeout=15) as sock:
        sock.sendall(b"\x00\x00\x00\x0e\x00\x12\x00\x00\x00\x00\x00\x01\x00\x04test")  # ApiVersions v0
        assert sock.recv(100) == b""  # closed without an answer
    assert secure_node.alive()
