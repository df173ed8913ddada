"""Every Kafka client writes keyed records with headers, and every client (ours included)
reads them back identical: keys, values (empty and null too), headers (repeated names,
empty and UTF-8 values), CreateTimes, offsets and per-partition order.

Each writer fills one fresh 3-partition topic once per module; each (writer, reader)
pair is its own test, so a failure names both clients.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.kafka_clients.conftest import needs
from tests.kafka_clients.drivers import CLIENTS, load
from tests.kafka_clients.readback import READ_TIMEOUT, Written, assert_read_back, write_sample
from tests.kafka_clients.servers import Broker

PAIRS = [pytest.param(w, r, marks=needs(w, r), id=f"{w}->{r}") for w in CLIENTS for r in CLIENTS]


@pytest.fixture(scope="module")
def written(kafka_node: Broker) -> Callable[[str], Written]:
    """written(writer): that writer's sample, written on first use; a failed write fails
    every test that reads it, with the writer's error."""
    done: dict[str, Written | BaseException] = {}

    def get(writer: str) -> Written:
        if writer not in done:
            try:
                done[writer] = write_sample(writer, kafka_node.bootstrap)
            except BaseException as exc:  # noqa: BLE001 - re-raised for each reader of this writer
                done[writer] = exc
        result = done[writer]
        if isinstance(result, BaseException):
            raise AssertionError(f"{writer} could not write its sample: {result}") from result
        return result

    return get


@pytest.mark.parametrize("writer, reader", PAIRS)
def test_reader_sees_what_writer_wrote(
    written: Callable[[str], Written], kafka_node: Broker, writer: str, reader: str
) -> None:
    w = written(writer)
    got = load(reader).consume(kafka_node.bootstrap, w.topic, w.counts, timeout=READ_TIMEOUT)
    assert_read_back(w, got, f"{reader} reading what {writer} wrote to {w.topic}")
