"""SASL beyond KIP-152's first exchange: SaslHandshake v0 (the tokens follow as bare
length-prefixed frames) for PLAIN and SCRAM, from raw sockets and from kafka-python forced to an
old protocol; and KIP-368's session lifetime (`connections.max.reauth.ms`): SaslAuthenticate v1
tells the client the lifetime, confluent-kafka re-authenticates on its connections across several
lifetimes and keeps producing and consuming, and a client that does not re-authenticate has its
first request after the end refused by the connection closing."""

from __future__ import annotations

import importlib.util
import logging
import socket
import struct
import time
import uuid

import pytest

from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.scram import ScramClient
from tests.broker_security.test_sasl import (
    _closed,
    _frame,
    _read_frame,
    confluent_conf,
    sasl_node,
    users_add,
)
from tests.broker_security.test_tls import tls_settings

LIFETIME_MS = 2000


def _bare(token: bytes) -> bytes:
    return struct.pack(">i", len(token)) + token


def _metadata_answered(sock: socket.socket, correlation_id: int) -> bool:
    sock.sendall(_frame(ApiKey.METADATA, 1, m.MetadataRequest(topics=None), correlation_id))
    frame = _read_frame(sock)
    return bool(frame) and struct.unpack(">i", frame[:4])[0] == correlation_id


def _handshake(sock: socket.socket, mechanism: str, version: int) -> None:
    sock.sendall(_frame(ApiKey.SASL_HANDSHAKE, version, m.SaslHandshakeRequest(mechanism=mechanism)))
    assert m.SaslHandshakeResponse.decode(_read_frame(sock)[4:], version).error_code == 0


def _authenticate(sock: socket.socket, token: bytes, correlation_id: int) -> m.SaslAuthenticateResponse:
    sock.sendall(_frame(ApiKey.SASL_AUTHENTICATE, 1, m.SaslAuthenticateRequest(auth_bytes=token), correlation_id))
    return m.SaslAuthenticateResponse.decode(_read_frame(sock)[4:], 1)


def _scram_v1(sock: socket.socket, mechanism: str, user: str, password: str) -> m.SaslAuthenticateResponse:
    scram = ScramClient(mechanism, user, password)
    first = _authenticate(sock, scram.first(), 2)
    assert first.error_code == 0
    final = _authenticate(sock, scram.final(first.auth_bytes), 3)
    if final.error_code == 0:
        scram.verify(final.auth_bytes)
    return final


def test_handshake_v0_with_bare_tokens_for_plain_and_scram(secure_node):
    port = sasl_node(secure_node)
    users_add(secure_node, "alice", "alice-pw", "SCRAM-SHA-256")
    address = ("127.0.0.1", port)
    # PLAIN: one bare token, answered with an empty bare frame; then Kafka requests.
    with socket.create_connection(address, timeout=15) as sock:
        _handshake(sock, "PLAIN", 0)
        sock.sendall(_bare(b"\0kim\0kim-secret"))
        assert _read_frame(sock) == b""  # the length 0 frame
        assert _metadata_answered(sock, 7)
    # SCRAM-SHA-256: two bare rounds, the server's signature checked.
    with socket.create_connection(address, timeout=15) as sock:
        _handshake(sock, "SCRAM-SHA-256", 0)
        scram = ScramClient("SCRAM-SHA-256", "alice", "alice-pw")
        sock.sendall(_bare(scram.first()))
        sock.sendall(_bare(scram.final(_read_frame(sock))))
        scram.verify(_read_frame(sock))
        assert _metadata_answered(sock, 8)
        # A v0 session cannot re-authenticate (its tokens could not be told from requests).
        sock.sendall(_frame(ApiKey.SASL_HANDSHAKE, 1, m.SaslHandshakeRequest(mechanism="SCRAM-SHA-256"), 9))
        assert m.SaslHandshakeResponse.decode(_read_frame(sock)[4:], 1).error_code == ErrorCode.ILLEGAL_SASL_STATE
    # Wrong passwords: no answer is possible in bare framing; the connection is closed.
    with socket.create_connection(address, timeout=15) as sock:
        _handshake(sock, "PLAIN", 0)
        sock.sendall(_bare(b"\0kim\0wrong"))
        assert _closed(sock)
    with socket.create_connection(address, timeout=15) as sock:
        _handshake(sock, "SCRAM-SHA-256", 0)
        scram = ScramClient("SCRAM-SHA-256", "alice", "wrong")
        sock.sendall(_bare(scram.first()))
        sock.sendall(_bare(scram.final(_read_frame(sock))))
        assert _closed(sock)
    assert secure_node.alive() and "Traceback" not in secure_node.log()


@pytest.mark.skipif(importlib.util.find_spec("kafka") is None, reason="kafka-python is not installed")
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_kafka_python_on_an_old_protocol_uses_handshake_v0(secure_node, mechanism, caplog):
    from kafka import KafkaConsumer, KafkaProducer

    caplog.set_level(logging.DEBUG, logger="kafka.protocol.parser")

    port = sasl_node(secure_node)
    users_add(secure_node, "alice", "alice-pw", "SCRAM-SHA-512")
    user, password = ("kim", "kim-secret") if mechanism == "PLAIN" else ("alice", "alice-pw")
    # api_version 0.11 (before KIP-152, after the v2 record format we store): kafka-python sends
    # SaslHandshake v0 and the tokens bare.
    conf = dict(
        bootstrap_servers=f"127.0.0.1:{port}",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism=mechanism,
        sasl_plain_username=user,
        sasl_plain_password=password,
        api_version=(0, 11),
    )
    topic = f"v0-{uuid.uuid4().hex[:6]}"
    producer = KafkaProducer(acks="all", **conf)
    try:
        for i in range(5):
            producer.send(topic, f"m{i}".encode()).get(timeout=30)
    finally:
        producer.close(timeout=10)
    consumer = KafkaConsumer(topic, auto_offset_reset="earliest", **conf)
    got: list[bytes] = []
    try:
        deadline = time.monotonic() + 30
        while len(got) < 5 and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                got += [r.value for r in records]
    finally:
        consumer.close()
    assert got == [f"m{i}".encode() for i in range(5)]
    assert "SaslHandshakeRequest(version=0" in caplog.text and "SaslBytesRequest" in caplog.text
    log = secure_node.log()
    assert "Traceback" not in log and "authentication failed" not in log


def test_a_session_that_is_not_reauthenticated_ends_at_its_lifetime(secure_node):
    port = sasl_node(secure_node, extra={"connections.max.reauth.ms": LIFETIME_MS})
    users_add(secure_node, "alice", "alice-pw", "SCRAM-SHA-256")
    address = ("127.0.0.1", port)
    with socket.create_connection(address, timeout=15) as sock:
        _handshake(sock, "SCRAM-SHA-256", 1)
        final = _scram_v1(sock, "SCRAM-SHA-256", "alice", "alice-pw")
        authenticated = time.monotonic()
        assert final.error_code == 0 and final.session_lifetime_ms == LIFETIME_MS
        # Requests are answered until the lifetime ends; the first one after it closes the connection.
        correlation_id, closed_after = 10, None
        while time.monotonic() - authenticated < 3 * LIFETIME_MS / 1000:
            correlation_id += 1
            if not _metadata_answered(sock, correlation_id):
                closed_after = time.monotonic() - authenticated
                break
            time.sleep(0.1)  # pacing of the requests, not synchronisation
        assert closed_after is not None and closed_after >= LIFETIME_MS / 1000
        assert _closed(sock)
    assert "expired (connections.max.reauth.ms) without re-authentication" in secure_node.log()


def test_reauthentication_renews_the_session_and_keeps_the_principal(secure_node):
    port = sasl_node(secure_node, extra={"connections.max.reauth.ms": LIFETIME_MS})
    users_add(secure_node, "alice", "alice-pw", "SCRAM-SHA-256")
    users_add(secure_node, "bob", "bob-pw", "SCRAM-SHA-256")
    address = ("127.0.0.1", port)
    with socket.create_connection(address, timeout=15) as sock:
        _handshake(sock, "SCRAM-SHA-256", 1)
        assert _scram_v1(sock, "SCRAM-SHA-256", "alice", "alice-pw").session_lifetime_ms == LIFETIME_MS
        for round_ in range(3):  # three lifetimes, each renewed before its end
            started = time.monotonic()
            while time.monotonic() - started < 0.6 * LIFETIME_MS / 1000:
                assert _metadata_answered(sock, 100 + round_)
                time.sleep(0.1)  # pacing
            _handshake(sock, "SCRAM-SHA-256", 1)
            assert _scram_v1(sock, "SCRAM-SHA-256", "alice", "alice-pw").session_lifetime_ms == LIFETIME_MS
        assert _metadata_answered(sock, 200)
    # Another principal, or another mechanism, in a re-authentication: refused, closed.
    with socket.create_connection(address, timeout=15) as sock:
        _handshake(sock, "SCRAM-SHA-256", 1)
        assert _scram_v1(sock, "SCRAM-SHA-256", "alice", "alice-pw").error_code == 0
        _handshake(sock, "SCRAM-SHA-256", 1)
        assert _scram_v1(sock, "SCRAM-SHA-256", "bob", "bob-pw").error_code == ErrorCode.SASL_AUTHENTICATION_FAILED
        assert _closed(sock)
    with socket.create_connection(address, timeout=15) as sock:
        _handshake(sock, "SCRAM-SHA-256", 1)
        assert _scram_v1(sock, "SCRAM-SHA-256", "alice", "alice-pw").error_code == 0
        sock.sendall(_frame(ApiKey.SASL_HANDSHAKE, 1, m.SaslHandshakeRequest(mechanism="PLAIN"), 4))
        assert (
            m.SaslHandshakeResponse.decode(_read_frame(sock)[4:], 1).error_code == ErrorCode.UNSUPPORTED_SASL_MECHANISM
        )
        assert _closed(sock)
    log = secure_node.log()
    assert "cannot change principals during re-authentication from User:alice to User:bob" in log
    assert "Traceback" not in log


@pytest.mark.skipif(importlib.util.find_spec("confluent_kafka") is None, reason="confluent-kafka is not installed")
def test_confluent_kafka_reauthenticates_across_several_lifetimes(secure_node, authority):
    port = sasl_node(
        secure_node, "SASL_SSL", {**tls_settings(authority, auth="none"), "connections.max.reauth.ms": LIFETIME_MS}
    )
    users_add(secure_node, "alice", "alice-pw", "SCRAM-SHA-512")
    conf = confluent_conf(port, authority, "alice", "alice-pw")
    topic = f"reauth-{uuid.uuid4().hex[:6]}"
    from confluent_kafka import Consumer, Producer

    reauth_lines: list[str] = []

    class Log:  # librdkafka's debug lines, to see that it re-authenticated
        def log(self, level: int, fmt: str, *args: object) -> None:
            line = fmt % args if args else fmt
            if "reauth" in line.lower():
                reauth_lines.append(line)

    # A producer and a consumer on their connections for four lifetimes: every record sent is read.
    producer = Producer({**conf, "acks": "all", "debug": "security", "logger": Log()})
    consumer = Consumer({**conf, "group.id": f"g-{uuid.uuid4().hex[:6]}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    sent: list[bytes] = []
    got: list[bytes] = []
    started = time.monotonic()
    try:
        while time.monotonic() - started < 4 * LIFETIME_MS / 1000 or len(got) < len(sent):
            assert time.monotonic() - started < 60, f"read {len(got)} of {len(sent)} records"
            if time.monotonic() - started < 4 * LIFETIME_MS / 1000:
                producer.produce(topic, f"r{len(sent)}".encode())
                sent.append(f"r{len(sent)}".encode())
                assert producer.flush(10) == 0
            msg = consumer.poll(0.1)
            if msg is not None and msg.error() is None:
                got.append(msg.value())
    finally:
        consumer.close()
    assert producer.flush(30) == 0
    assert got == sent and len(sent) > 10
    log = secure_node.log()
    assert "expired (connections.max.reauth.ms)" not in log, "a connection was not re-authenticated in time"
    reauths = [line for line in reauth_lines if "in state REAUTH" in line]
    assert len(reauths) >= 2, f"librdkafka re-authenticated {len(reauths)} times in four lifetimes"
    assert "Traceback" not in log
