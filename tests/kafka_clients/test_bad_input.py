"""Bad input on the Kafka protocol, over raw sockets: garbage, truncated, oversized and
negative frames, unknown API keys and versions, a request header that lies about its
length, and Produce requests carrying a batch with a bad CRC, a header that lies about
its records, or an unknown codec.

Each gets Kafka's error code, or only its own connection closed. A bystander connection
opened before the bad one goes on answering and storing afterwards, the broker process
lives on, and the partition holds exactly the good records: nothing stored is lost and
nothing of a refused batch is kept.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator

import pytest

from tests.kafka_clients.kwire import (
    API_API_VERSIONS,
    API_FETCH,
    API_METADATA,
    API_PRODUCE,
    CORRUPT_MESSAGE,
    INVALID_RECORD,
    UNSUPPORTED_COMPRESSION_TYPE,
    UNSUPPORTED_VERSION,
    Batch,
    ClosedError,
    RawConn,
    fetch_body,
    frame,
    header,
    i16,
    i32,
    parse_api_versions_v0,
    parse_batches,
    parse_fetch_v4,
    parse_produce_v7,
    produce_body,
    record,
    string,
)
from tests.kafka_clients.servers import Broker

GOOD = [(b"k0", b"stored before"), (None, b"null key"), (b"k2", None)]


@pytest.fixture
def topic(new_topic: Callable[..., str], kafka_node: Broker) -> Iterator[str]:
    """A 1-partition topic holding GOOD at offsets 0-2; at the end it must hold GOOD, then
    what the bystander stored, and nothing else."""
    name = new_topic("bad-input", partitions=1)
    with RawConn(kafka_node.bootstrap) as conn:
        assert parse_produce_v7(conn.call(API_PRODUCE, 7, produce_body(name, 0, Batch(GOOD).encode()))) == (0, 0)
    yield name
    assert kafka_node.alive(), f"the broker died; its log:\n{kafka_node.log()[-4000:]}"
    with RawConn(kafka_node.bootstrap) as conn:
        error, hw, data = parse_fetch_v4(conn.call(API_FETCH, 4, fetch_body(name, 0)))
    stored = [r for b in parse_batches(data) for r in b.records]
    assert error == 0 and hw == 4, (error, hw, stored)
    assert stored == [(0, *GOOD[0]), (1, *GOOD[1]), (2, *GOOD[2]), (3, b"by", b"stander")], stored


def bystander_goes_on(conn: RawConn, topic: str) -> None:
    error, table = parse_api_versions_v0(conn.call(API_API_VERSIONS, 0, b""))
    assert error == 0 and API_PRODUCE in table, (error, table)
    answer = parse_produce_v7(conn.call(API_PRODUCE, 7, produce_body(topic, 0, Batch([(b"by", b"stander")]).encode())))
    assert answer == (0, 3), answer


def still_usable(conn: RawConn) -> None:
    """A connection the broker kept open after bad input must still be in step: its next
    request gets its own answer."""
    error, table = parse_api_versions_v0(conn.call(API_API_VERSIONS, 0, b""))
    assert error == 0 and table, (error, table)


FRAMES = {
    "garbage (an HTTP request)": b"GET / HTTP/1.1\r\nHost: broker\r\n\r\n",
    "negative size": i32(-5) + b"\x00" * 16,
    "zero size": i32(0),
    "oversized (200 MiB announced)": i32(200 << 20) + header(API_METADATA, 1, 7) + i32(-1),
    "header lying about client_id's length": frame(i16(API_METADATA) + i16(1) + i32(7) + i16(500) + b"short"),
    "header cut short": frame(i16(API_METADATA) + i16(1)),
}


@pytest.mark.parametrize("bad", list(FRAMES), ids=list(FRAMES))
def test_broken_frame_closes_only_its_connection(kafka_node: Broker, topic: str, bad: str) -> None:
    with RawConn(kafka_node.bootstrap) as bystander, RawConn(kafka_node.bootstrap) as victim:
        still_usable(bystander)
        victim.send(FRAMES[bad])
        assert victim.wait_closed(), f"{bad}: the broker answered instead of closing the connection"
        bystander_goes_on(bystander, topic)


def test_truncated_frame_then_eof_closes_only_its_connection(kafka_node: Broker, topic: str) -> None:
    with RawConn(kafka_node.bootstrap) as bystander, RawConn(kafka_node.bootstrap) as victim:
        victim.send(i32(64) + header(API_METADATA, 1, 7))
        bystander_goes_on(bystander, topic)  # a half-sent frame blocks no one else
        victim.sock.shutdown(socket.SHUT_WR)  # the rest never comes
        assert victim.wait_closed(), "the broker answered a frame it never received whole"


@pytest.mark.parametrize(
    "api_key, version",
    [(32000, 0), (-2, 0), (API_METADATA, 999), (API_PRODUCE, 999)],
    ids=["unknown key 32000", "negative key", "Metadata v999", "Produce v999"],
)
def test_unknown_api_or_version_is_refused(kafka_node: Broker, topic: str, api_key: int, version: int) -> None:
    """Kafka closes the connection (it cannot parse a body it has no schema for); an answer
    is accepted only if the connection stays in step afterwards."""
    with RawConn(kafka_node.bootstrap) as bystander, RawConn(kafka_node.bootstrap) as victim:
        victim.send(frame(header(api_key, version, 41) + b"\x00" * 12))
        if not victim.wait_closed():
            still_usable(victim)
        bystander_goes_on(bystander, topic)


def test_api_versions_newer_than_served_answers_with_the_table_in_v0_layout(kafka_node: Broker, topic: str) -> None:
    with RawConn(kafka_node.bootstrap) as conn:
        conn.send(frame(header(API_API_VERSIONS, 999, 77) + b"\x00" * 8))
        answer = conn.read_frame()
        assert struct.unpack_from(">i", answer)[0] == 77, "response header v0: the correlation id, nothing else"
        error, table = parse_api_versions_v0(answer[4:])
        assert error == UNSUPPORTED_VERSION, error
        assert table.get(API_API_VERSIONS, (9, -1))[0] == 0 and table[API_API_VERSIONS][1] >= 3, table
        assert API_PRODUCE in table and API_FETCH in table, table
        bystander_goes_on(conn, topic)


def _records(n: int) -> bytes:
    return b"".join(record(i, b"k%d" % i, b"v%d" % i) for i in range(n))


BATCHES = {
    "bad CRC": (Batch([(b"k", b"v")], crc=0x1234), {CORRUPT_MESSAGE}),
    "count says 5, holds 3": (
        Batch([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")], record_count=5),
        {CORRUPT_MESSAGE, INVALID_RECORD},
    ),
    "count and last offset delta disagree": (
        Batch([(b"a", b"1"), (b"b", b"2")], last_offset_delta=4),
        {CORRUPT_MESSAGE, INVALID_RECORD},
    ),
    "count says 3, holds 2": (Batch([(b"a", b"1")] * 3, records_bytes=_records(2)), {CORRUPT_MESSAGE, INVALID_RECORD}),
    "count says 2, holds 3": (Batch([(b"a", b"1")] * 2, records_bytes=_records(3)), {CORRUPT_MESSAGE, INVALID_RECORD}),
    "count of 0": (
        Batch([], record_count=0, last_offset_delta=0, records_bytes=b""),
        {CORRUPT_MESSAGE, INVALID_RECORD},
    ),
    **{
        f"unknown codec {c}": (
            Batch([(b"k", b"v")], attributes=c),
            {CORRUPT_MESSAGE, INVALID_RECORD, UNSUPPORTED_COMPRESSION_TYPE},
        )
        for c in (5, 6, 7)
    },
    "gzip flag over plain records": (Batch([(b"k", b"v")], attributes=1), {CORRUPT_MESSAGE, INVALID_RECORD}),
}


@pytest.mark.parametrize("bad", list(BATCHES), ids=list(BATCHES))
def test_bad_batch_is_refused_and_nothing_of_it_is_stored(kafka_node: Broker, topic: str, bad: str) -> None:
    batch, codes = BATCHES[bad]
    with RawConn(kafka_node.bootstrap) as bystander, RawConn(kafka_node.bootstrap) as victim:
        still_usable(bystander)
        victim.send(frame(header(API_PRODUCE, 7, 5) + produce_body(topic, 0, batch.encode())))
        try:
            answer: bytes | None = victim.read_frame()
        except ClosedError:  # closing the connection is an allowed refusal too
            answer = None
        if answer is not None:
            assert struct.unpack_from(">i", answer)[0] == 5
            error, _ = parse_produce_v7(answer[4:])
            assert error in codes, f"{bad}: error {error}, want one of {sorted(codes)}"
            still_usable(victim)
        bystander_goes_on(bystander, topic)


def test_batch_cut_short_inside_the_records_field_is_refused(kafka_node: Broker, topic: str) -> None:
    whole = Batch([(b"k", b"v" * 50)]).encode()
    with RawConn(kafka_node.bootstrap) as bystander, RawConn(kafka_node.bootstrap) as victim:
        answer = victim.call(API_PRODUCE, 7, produce_body(topic, 0, whole[:-20]))
        error, _ = parse_produce_v7(answer)
        assert error in {CORRUPT_MESSAGE, INVALID_RECORD}, error
        bystander_goes_on(bystander, topic)


def test_metadata_request_with_a_null_client_id_is_served(kafka_node: Broker, topic: str) -> None:
    """A header's client_id may be null (length -1): that is not bad input."""
    with RawConn(kafka_node.bootstrap) as conn:
        conn.send(frame(header(API_METADATA, 1, 9, client_id=None) + i32(1) + string(topic)))
        answer = conn.read_frame()
        assert struct.unpack_from(">i", answer)[0] == 9
        bystander_goes_on(conn, topic)
