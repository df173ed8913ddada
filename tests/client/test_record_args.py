"""check_record: wrong send() arguments are refused with a message naming the argument."""

from __future__ import annotations

import pytest

from client import Producer
from client.errors import RecordTooLargeError
from client.producer.record_args import check_record
from tests.client.conftest import bootstrap

GOOD = dict(topic="t", value=b"v", key=b"k", headers=[("h", b"x")], partition=0, timestamp_ms=1)


@pytest.mark.parametrize("name, bad, error, words", [
    ("value", "text", TypeError, "value must be bytes or None, not str"),
    ("value", 12345, TypeError, "value must be bytes or None, not int"),
    ("key", 5, TypeError, "key must be bytes or None, not int"),
    ("key", "k", TypeError, "key must be bytes or None, not str"),
    ("topic", None, TypeError, "topic must be a str"),
    ("topic", "", ValueError, "topic must not be empty"),
    ("partition", "0", TypeError, "partition must be an int"),
    ("partition", True, TypeError, "partition must be an int"),
    ("partition", -1, ValueError, "partition must be >= 0"),
    ("timestamp_ms", 1.5, TypeError, "timestamp_ms must be an int"),
    ("headers", {"h": b"x"}, TypeError, "headers must be a list"),
    ("headers", [("h", "x")], TypeError, "header 'h' value must be bytes or None, not str"),
    ("headers", [(b"h", b"x")], TypeError, "each header must be a"),
])
def test_bad_argument_is_named(name, bad, error, words) -> None:
    with pytest.raises(error, match=words):
        check_record(**{**GOOD, name: bad})


def test_good_record_and_its_size() -> None:
    record = check_record(**GOOD)
    assert (record.topic, record.value, record.key, record.partition) == ("t", b"v", b"k", 0)
    assert check_record(**{**GOOD, "value": None, "key": None, "headers": None, "partition": None,
                           "timestamp_ms": None}).size < record.size


def test_sync_send_raises_type_errors_itself_and_puts_size_errors_on_the_future(shared_node) -> None:
    with Producer(bootstrap(shared_node), max_request_size=1000) as producer:
        with pytest.raises(TypeError, match="value must be bytes"):
            producer.send("t", "a str")
        future = producer.send("t", b"x" * 2000)
        with pytest.raises(RecordTooLargeError):
            future.result(timeout=10)
