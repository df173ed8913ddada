"""Our own client and CLI on secured listeners: the Producer, Consumer and Admin take kafka-python's
security settings, and every client command takes Kafka's client properties with
--command-config, over SASL_SSL with SCRAM-SHA-256 and over SSL."""

from __future__ import annotations

import subprocess
import sys

import pytest

from client import Admin, Consumer, NewTopic, Producer, TopicPartition
from client.errors import AuthenticationError, BrokerConnectionError
from tests.broker_security.test_sasl import sasl_node, users_add
from tests.broker_security.test_tls import tls_settings


def pybroker(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "broker", *args], input=stdin, capture_output=True, text=True, timeout=90
    )


def test_cli_with_command_config_over_sasl_ssl_scram(secure_node, authority):
    port = sasl_node(secure_node, "SASL_SSL", tls_settings(authority, auth="none"))
    users_add(secure_node, "dora", "dora-pw", "SCRAM-SHA-256")
    props = secure_node.directory / "client.properties"
    props.write_text(
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-256\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="dora" password="dora-pw";\n'
        f"ssl.truststore.location={authority.pem.cert}\n"
    )
    common = ["--bootstrap", f"127.0.0.1:{port}", "--command-config", str(props)]
    created = pybroker("topics", "create", "cli-secure", "--partitions", "1", *common)
    assert created.returncode == 0, created.stderr
    produced = pybroker("produce", "cli-secure", *common, stdin="first\nsecond\n")
    assert produced.returncode == 0, produced.stderr
    consumed = pybroker("consume", "cli-secure", "--from-beginning", "--max-messages", "2", *common)
    assert consumed.stdout.split() == ["first", "second"], consumed.stderr
    props.write_text(props.read_text().replace('password="dora-pw"', 'password="nope"'))
    refused = pybroker("topics", "list", *common)
    assert refused.returncode == 1 and "SASL_AUTHENTICATION_FAILED" in refused.stderr, refused.stderr
    without = pybroker("topics", "list", "--bootstrap", f"127.0.0.1:{port}")  # no properties: refused too
    assert without.returncode == 1


def test_sync_clients_take_kafka_python_security_settings(secure_node, authority):
    secure_node.start(
        {"SSL": ("SSL", None), "INTERNAL": ("PLAINTEXT", None)},
        {**tls_settings(authority), "inter.broker.listener.name": "INTERNAL"},
    )
    eve = authority.issue("eve", "eve")
    security = dict(
        security_protocol="SSL",
        ssl_cafile=str(authority.pem.cert),
        ssl_certfile=str(eve.cert),
        ssl_keyfile=str(eve.key),
    )
    bootstrap = f"127.0.0.1:{secure_node.ports['SSL']}"
    with Admin(bootstrap, **security) as admin:
        admin.create_topics([NewTopic("sync-secure", 1, 1)])
    with Producer(bootstrap, **security) as producer:
        producer.send("sync-secure", b"v1").result(timeout=30)
    with Consumer(bootstrap, auto_offset_reset="earliest", **security) as consumer:
        consumer.assign([TopicPartition("sync-secure", 0)])
        got = []
        for _ in range(30):
            got += [r.value for r in consumer.poll(timeout_ms=1000)]
            if got:
                break
    assert got == [b"v1"]
    with pytest.raises((AuthenticationError, BrokerConnectionError)):  # no client certificate: refused
        Admin(bootstrap, security_protocol="SSL", ssl_cafile=str(authority.pem.cert), request_timeout_ms=5000)
