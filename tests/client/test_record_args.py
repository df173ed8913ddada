"""check_record: wrong send() arguments are refused with a message naming the argument."""

from __future__ import annotations

import pytest

from client import Producer
from client.errors import RecordTooLargeError
from client.producer.accumulator import RECORD_OVERHEAD
from client.producer.record_args import check_fields, check_record
from tests.support.node import bootstrap

GOOD = dict(topic="t", value=b"v", key=b"k", headers=[("h", b"x")], partition=0, timestamp_ms=1)
PLAIN = dict(topic="t", value=b"v", key=b"k", headers=None, partition=None, timestamp_ms=None)  # the fast path


@pytest.mark.parametrize(
    "name, bad, error, words",
    [
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
    ],
)
def test_bad_argument_is_named(name, bad, error, words) -> None:
    for good in (GOOD, PLAIN):
        with pytest.raises(error, match=words):
            check_record(**{**good, name: bad})


def test_plain_records_take_the_fast_path_to_the_same_fields() -> None:
    """Bytes key and value, nothing else: the fields and size the full checks give."""
    assert check_fields(**PLAIN) == ("t", b"v", b"k", None, None, None, RECORD_OVERHEAD + 2)
    assert check_fields(**{**PLAIN, "key": None}) == ("t", b"v", None, None, None, None, RECORD_OVERHEAD + 1)
    assert check_fields(**{**PLAIN, "key": bytearray(b"kk")})[6] == RECORD_OVERHEAD + 3  # the full checks


def test_good_record_and_its_size() -> None:
    record = check_record(**GOOD)
    assert (record.topic, record.value, record.key, record.partition) == ("t", b"v", b"k", 0)
    assert (
        check_record(
            **{**GOOD, "value": None, "key": None, "headers": None, "partition": None, "timestamp_ms": None}
        ).size
        < record.size
    )


def test_sync_send_raises_type_errors_itself_and_puts_size_errors_on_the_future(shared_node) -> None:
    with Producer(bootstrap(shared_node), max_request_size=1000) as producer:
        with pytest.raises(TypeError, match="value must be bytes"):
            producer.send("t", "a str")
        future = producer.send("t", b"x" * 2000)
        with pytest.raises(RecordTooLargeError):
            future.result(timeout=10)
