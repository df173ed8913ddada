"""SASL (KIP-152 framing) on SASL_PLAINTEXT and SASL_SSL listeners: PLAIN against the JAAS users,
SCRAM-SHA-256/512 against credentials `pybroker users` keeps in coord, with confluent-kafka,
kafka-python and our own client; wrong passwords, unknown users and wrong mechanisms are refused
with Kafka's codes and the connection closed; a half-finished exchange, an oversized token or a
request before authentication closes that connection only."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import struct
import subprocess
import sys
import time
import uuid

import pytest

from client.conn import BrokerConnection
from client.errors import AuthenticationError
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader, encode_request
from client.security import client_security
from coord.client import CoordClient
from tests.broker_security.conftest import ACLS_ON
from tests.broker_security.test_tls import tls_settings

PLAIN_JAAS = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required "
    'username="admin" password="admin-secret" user_admin="admin-secret" user_kim="kim-secret";'
)


def users_add(node, name: str, password: str, *mechanisms: str) -> None:
    flags = [x for mech in mechanisms for x in ("--mechanism", mech)]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "broker",
            "users",
            "add",
            name,
            "--password",
            password,
            *flags,
            "--coord",
            f"127.0.0.1:{node.coord_port}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr


def sasl_node(secure_node, protocol: str = "SASL_PLAINTEXT", extra: dict | None = None) -> int:
    secure_node.start(
        {"CLIENTS": (protocol, None), "INTERNAL": ("PLAINTEXT", None)},
        {
            "inter.broker.listener.name": "INTERNAL",
            "sasl.jaas.config": PLAIN_JAAS,
            "auto.create.topics.enable": True,
            **(extra or {}),
        },
    )
    return secure_node.ports["CLIENTS"]


async def _metadata_as(port: int, mechanism: str, user: str, password: str) -> int:
    security = client_security(
        "SASL_PLAINTEXT", sasl_mechanism=mechanism, sasl_plain_username=user, sasl_plain_password=password
    )
    conn = await BrokerConnection.open("127.0.0.1", port, security=security)
    try:
        return len((await conn.request(ApiKey.METADATA, m.MetadataRequest(topics=None))).brokers)
    finally:
        conn.close()


async def test_our_client_plain_and_scram_and_the_users_command(secure_node):
    port = sasl_node(secure_node)
    users_add(secure_node, "alice", "alice-pw")  # both SCRAM mechanisms
    assert await _metadata_as(port, "PLAIN", "kim", "kim-secret") == 1
    assert await _metadata_as(port, "SCRAM-SHA-256", "alice", "alice-pw") == 1
    assert await _metadata_as(port, "SCRAM-SHA-512", "alice", "alice-pw") == 1
    for mechanism, user, password in (
        ("PLAIN", "kim", "nope"),
        ("PLAIN", "ghost", "x"),
        ("SCRAM-SHA-256", "alice", "nope"),
        ("SCRAM-SHA-512", "ghost", "x"),
        ("SCRAM-SHA-256", "kim", "kim-secret"),
    ):  # a PLAIN user has no SCRAM key
        with pytest.raises(AuthenticationError, match="SASL_AUTHENTICATION_FAILED"):
            await _metadata_as(port, mechanism, user, password)
    coord = CoordClient(f"127.0.0.1:{secure_node.coord_port}")
    await coord.start()
    try:
        data, _ = await coord.get("/config/users/alice")
    finally:
        await coord.stop()
    stored = json.loads(data)
    assert stored["version"] == 1 and set(stored["config"]) == {"SCRAM-SHA-256", "SCRAM-SHA-512"}
    sha512 = stored["config"]["SCRAM-SHA-512"]
    assert sha512.startswith("salt=") and ",stored_key=" in sha512 and sha512.endswith(",iterations=4096")
    listing = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "broker", "users", "list", "--coord", f"127.0.0.1:{secure_node.coord_port}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "alice\tSCRAM-SHA-256,SCRAM-SHA-512" in listing.stdout
    deleted = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "broker", "users", "delete", "alice", "--coord", f"127.0.0.1:{secure_node.coord_port}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert deleted.returncode == 0, deleted.stderr
    with pytest.raises(AuthenticationError):
        await _metadata_as(port, "SCRAM-SHA-256", "alice", "alice-pw")
    assert "SASL SCRAM-SHA-256 authentication failed" in secure_node.log()


# -- raw bytes: what a broken or hostile peer sends ------------------------------------------------


def _frame(api: ApiKey, version: int, body: m.Message, correlation_id: int = 1) -> bytes:
    return encode_request(RequestHeader(int(api), version, correlation_id, "raw"), body)


def _read_frame(sock: socket.socket) -> bytes:
    head = b""
    while len(head) < 4:
        chunk = sock.recv(4 - len(head))
        if not chunk:
            return b""
        head += chunk
    (size,) = struct.unpack(">i", head)
    body = b""
    while len(body) < size:
        chunk = sock.recv(size - len(body))
        assert chunk, "closed inside a frame"
        body += chunk
    return body


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_bad_sasl_input_closes_the_connection_and_the_broker_goes_on(secure_node):
    port = sasl_node(secure_node)
    address = ("127.0.0.1", port)
    # A wrong mechanism: UNSUPPORTED_SASL_MECHANISM with the enabled ones, then closed.
    with socket.create_connection(address, timeout=15) as sock:
        sock.sendall(_frame(ApiKey.SASL_HANDSHAKE, 1, m.SaslHandshakeRequest(mechanism="GSSAPI")))
        answer = m.SaslHandshakeResponse.decode(_read_frame(sock)[4:], 1)
        assert answer.error_code == ErrorCode.UNSUPPORTED_SASL_MECHANISM
        assert answer.mechanisms == ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"]
        assert _closed(sock)
    # A request other than ApiVersions before authenticating: closed, unanswered.
    with socket.create_connection(address, timeout=15) as sock:
        sock.sendall(_frame(ApiKey.METADATA, 1, m.MetadataRequest(topics=None)))
        assert _closed(sock)
    # A token larger than sasl.server.max.receive.size (512 KiB) before authentication: closed.
    with socket.create_connection(address, timeout=15) as sock:
        sock.sendall(_frame(ApiKey.SASL_HANDSHAKE, 1, m.SaslHandshakeRequest(mechanism="PLAIN")))
        assert m.SaslHandshakeResponse.decode(_read_frame(sock)[4:], 1).error_code == 0
        huge = _frame(ApiKey.SASL_AUTHENTICATE, 0, m.SaslAuthenticateRequest(auth_bytes=b"\0kim\0" + b"x" * 600000), 2)
        try:
            sock.sendall(huge)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert _closed(sock)
    # SaslAuthenticate before SaslHandshake: ILLEGAL_SASL_STATE, closed.
    with socket.create_connection(address, timeout=15) as sock:
        sock.sendall(_frame(ApiKey.SASL_AUTHENTICATE, 1, m.SaslAuthenticateRequest(auth_bytes=b"\0kim\0kim-secret")))
        assert m.SaslAuthenticateResponse.decode(_read_frame(sock)[4:], 1).error_code == ErrorCode.ILLEGAL_SASL_STATE
        assert _closed(sock)
    # An exchange that stops halfway (SCRAM's first message, then the peer goes away), many times.
    for i in range(20):
        with socket.create_connection(address, timeout=15) as sock:
            sock.sendall(_frame(ApiKey.SASL_HANDSHAKE, 1, m.SaslHandshakeRequest(mechanism="SCRAM-SHA-256")))
            _read_frame(sock)
            sock.sendall(_frame(ApiKey.SASL_AUTHENTICATE, 1, m.SaslAuthenticateRequest(auth_bytes=b"n,,n=x,r=abc"), 2))
            if i % 2:
                _read_frame(sock)  # the server-first-message; then we vanish mid-exchange
    # Garbage where a SCRAM message belongs: SASL_AUTHENTICATION_FAILED, closed.
    with socket.create_connection(address, timeout=15) as sock:
        sock.sendall(_frame(ApiKey.SASL_HANDSHAKE, 1, m.SaslHandshakeRequest(mechanism="SCRAM-SHA-512")))
        _read_frame(sock)
        sock.sendall(_frame(ApiKey.SASL_AUTHENTICATE, 1, m.SaslAuthenticateRequest(auth_bytes=b"\xff\x00junk"), 2))
        answer = m.SaslAuthenticateResponse.decode(_read_frame(sock)[4:], 1)
        assert answer.error_code == ErrorCode.SASL_AUTHENTICATION_FAILED and answer.error_message
        assert _closed(sock)
    assert secure_node.alive()
    time.sleep(0.2)
    assert secure_node.alive() and "Traceback" not in secure_node.log()


# -- Kafka's own clients ---------------------------------------------------------------------------

confluent_missing = pytest.mark.skipif(
    importlib.util.find_spec("confluent_kafka") is None, reason="confluent-kafka is not installed"
)
kafka_python_missing = pytest.mark.skipif(
    importlib.util.find_spec("kafka") is None, reason="kafka-python is not installed"
)


def confluent_conf(port: int, authority, user: str, password: str) -> dict[str, object]:
    return {
        "bootstrap.servers": f"127.0.0.1:{port}",
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": password,
        "ssl.ca.location": str(authority.pem.cert),
    }


def confluent_roundtrip(conf: dict[str, object], topic: str, values: list[bytes]) -> list[bytes]:
    from confluent_kafka import Consumer, Producer

    producer = Producer({**conf, "acks": "all"})
    for v in values:
        producer.produce(topic, v)
    assert producer.flush(30) == 0
    consumer = Consumer({**conf, "group.id": f"g-{uuid.uuid4().hex[:6]}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + 45
    try:
        while len(got) < len(values) and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                got.append(msg.value())
    finally:
        consumer.close()
    return got


def confluent_auth_errors(conf: dict[str, object]) -> list[object]:
    """The errors librdkafka reports when it tries to connect with `conf`."""
    from confluent_kafka.admin import AdminClient

    errors: list[object] = []
    admin = AdminClient({**conf, "error_cb": errors.append, "log_level": 0})
    deadline = time.monotonic() + 20
    while not errors and time.monotonic() < deadline:
        admin.poll(0.5)  # serves error_cb
    return errors


@confluent_missing
def test_confluent_kafka_sasl_ssl_scram_sha_512(secure_node, authority):
    from confluent_kafka import KafkaError, KafkaException

    port = sasl_node(
        secure_node,
        "SASL_SSL",
        {**tls_settings(authority, auth="none"), **ACLS_ON, "sasl.enabled.mechanisms": "SCRAM-SHA-512"},
    )
    users_add(secure_node, "carol", "carol-pw", "SCRAM-SHA-512")
    secure_node.grant("INTERNAL", "User:carol", "Read", "Write", "Create", topic="scram-topic")
    secure_node.grant("INTERNAL", "User:carol", "Read", group="*")
    conf = confluent_conf(port, authority, "carol", "carol-pw")
    assert confluent_roundtrip(conf, "scram-topic", [b"a", b"b", b"c"]) == [b"a", b"b", b"c"]
    internal = {"bootstrap.servers": f"127.0.0.1:{secure_node.ports['INTERNAL']}"}
    assert confluent_roundtrip(internal, "hr-only", [b"secret"]) == [b"secret"]  # admin (ANONYMOUS, super)
    from confluent_kafka import Consumer

    consumer = Consumer({**conf, "group.id": "carol-g", "auto.offset.reset": "earliest"})
    try:
        consumer.subscribe(["hr-only"])
        refused = None
        deadline = time.monotonic() + 30
        while refused is None and time.monotonic() < deadline:
            try:
                msg = consumer.poll(1.0)
            except KafkaException as exc:
                refused = exc.args[0]
                break
            assert msg is None or msg.error() is not None, "read a record of a topic without an ACL"
            if msg is not None:
                refused = msg.error()
        assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, refused
    finally:
        consumer.close()
    errors = confluent_auth_errors(confluent_conf(port, authority, "carol", "wrong"))
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
    assert "Authentication failed" in " ".join(str(e) for e in errors)
    assert secure_node.alive()


@kafka_python_missing
def test_kafka_python_sasl_plaintext_plain(secure_node, caplog):
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.errors import KafkaError

    port = sasl_node(secure_node, "SASL_PLAINTEXT", {"sasl.enabled.mechanisms": "PLAIN", **ACLS_ON})
    conf = {
        "bootstrap_servers": f"127.0.0.1:{port}",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "kim",
    }
    secure_node.grant("INTERNAL", "User:kim", "Read", "Write", "Create", topic="plain-topic")
    seed = KafkaProducer(bootstrap_servers=f"127.0.0.1:{secure_node.ports['INTERNAL']}")  # admin: ANONYMOUS
    try:
        seed.send("not-kims", b"private").get(timeout=30)
    finally:
        seed.close()
    producer = KafkaProducer(**conf, sasl_plain_password="kim-secret", acks="all")
    try:
        for v in (b"x", b"y"):
            producer.send("plain-topic", v).get(timeout=30)
    finally:
        producer.close()
    consumer = KafkaConsumer(
        "plain-topic", **conf, sasl_plain_password="kim-secret", auto_offset_reset="earliest", consumer_timeout_ms=10000
    )
    try:
        assert [r.value for r in consumer][:2] == [b"x", b"y"]
    finally:
        consumer.close()
    from kafka import TopicPartition

    reader = KafkaConsumer(**conf, sasl_plain_password="kim-secret", auto_offset_reset="earliest")
    try:  # kafka-python logs the refusal (TOPIC_AUTHORIZATION_FAILED in Metadata) and reads nothing
        reader.assign([TopicPartition("not-kims", 0)])
        deadline = time.monotonic() + 20
        while "Topic not-kims is not authorized" not in caplog.text and time.monotonic() < deadline:
            assert not reader.poll(timeout_ms=500), "read a record of a topic without an ACL"
        assert "Topic not-kims is not authorized" in caplog.text
    finally:
        reader.close()
    refused = KafkaProducer(**conf, sasl_plain_password="wrong", max_block_ms=3000, api_version=(2, 5))
    try:
        with pytest.raises(KafkaError):  # kafka-python cannot get metadata: every login is refused
            refused.send("plain-topic", b"z").get(timeout=10)
    finally:
        refused.close(timeout=5)
    assert "SASL PLAIN authentication failed" in secure_node.log()
    assert secure_node.alive()
