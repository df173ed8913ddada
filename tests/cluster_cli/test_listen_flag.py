"""`pybroker broker start --listen HOST:PORT` (Kafka's listeners) and its refusals."""

from __future__ import annotations

import pytest

from broker.cli.broker_cmd import parse_listener
from broker.config import ConfigError


def test_listen_gives_host_and_port():
    assert parse_listener("10.0.0.1:9092", None, None) == ("10.0.0.1", 9092)
    assert parse_listener("PLAINTEXT://broker-a.example:9093", None, None) == ("broker-a.example", 9093)
    assert parse_listener(None, "127.0.0.2", 9) == ("127.0.0.2", 9)


@pytest.mark.parametrize("value, message", [
    ("nope", "expected HOST:PORT"), (":9092", "expected HOST:PORT"), ("h:0", "expected HOST:PORT"),
    ("h:70000", "expected HOST:PORT"), ("0.0.0.0:9092", "wildcard"),
])
def test_listen_refusals_say_what_to_give(value, message):
    with pytest.raises(ConfigError, match=message):
        parse_listener(value, None, None)


def test_listen_and_host_port_together_are_refused():
    with pytest.raises(ConfigError, match="not both"):
        parse_listener("10.0.0.1:9092", None, 9092)
