"""Compressed batches: confluent-kafka and kafka-python each produce with gzip, snappy,
lz4 and zstd, and every client reads the records back identical. The stored batches keep
the producer's codec (Kafka's compression.type=producer: the leader validates, it does
not recompress), which a raw Fetch v11 shows in each batch's attributes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.kafka_clients.conftest import needs
from tests.kafka_clients.drivers import CLIENTS, load
from tests.kafka_clients.kwire import API_FETCH, RawConn, fetch_v11_body, parse_batches, parse_fetch_v11
from tests.kafka_clients.readback import READ_TIMEOUT, Written, assert_read_back, write_sample
from tests.kafka_clients.servers import Broker

CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
WRITERS = ["confluent", "kafka-python"]
CASES = [pytest.param(w, c, r, marks=needs(w, r), id=f"{w}-{c}->{r}") for w in WRITERS for c in CODECS for r in CLIENTS]


@pytest.fixture(scope="module")
def written(kafka_node: Broker) -> Callable[[str, str], Written]:
    """written(writer, codec): that writer's sample compressed with codec, written once."""
    done: dict[tuple[str, str], Written | BaseException] = {}

    def get(writer: str, codec: str) -> Written:
        if (writer, codec) not in done:
            try:
                done[writer, codec] = write_sample(writer, kafka_node.bootstrap, compression=codec)
            except BaseException as exc:  # noqa: BLE001 - re-raised for each reader of this sample
                done[writer, codec] = exc
        result = done[writer, codec]
        if isinstance(result, BaseException):
            raise AssertionError(f"{writer} could not write its {codec} sample: {result}") from result
        return result

    return get


@pytest.mark.parametrize(
    "writer, codec", [pytest.param(w, c, marks=needs(w), id=f"{w}-{c}") for w in WRITERS for c in CODECS]
)
def test_stored_batches_keep_the_producers_codec(
    written: Callable[[str, str], Written], kafka_node: Broker, writer: str, codec: str
) -> None:
    w = written(writer, codec)
    with RawConn(kafka_node.bootstrap) as conn:
        for p, count in w.counts.items():
            error, hw, data = parse_fetch_v11(conn.call(API_FETCH, 11, fetch_v11_body(w.topic, p)))
            assert (error, hw) == (0, count), (p, error, hw)
            codecs = {b.attributes & 7 for b in parse_batches(data)}
            assert codecs == {CODECS[codec]}, f"partition {p}: stored batch codecs {codecs}, sent {codec}"


@pytest.mark.parametrize("writer, codec, reader", CASES)
def test_reader_decompresses_what_writer_compressed(
    written: Callable[[str, str], Written], kafka_node: Broker, writer: str, codec: str, reader: str
) -> None:
    w = written(writer, codec)
    got = load(reader).consume(kafka_node.bootstrap, w.topic, w.counts, timeout=READ_TIMEOUT)
    assert_read_back(w, got, f"{reader} reading {codec} records {writer} wrote to {w.topic}")
