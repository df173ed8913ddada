"""Writing a sample with one client and checking what another read back, record for record.

A writer that reports where its records landed (every client but kcat -P) is held to
its own report: the reader must see the same offset, CreateTime, key, value and headers
for each record, per partition in the order written. kcat -P reports nothing, so its
records must land at offsets 0, 1, 2, ... of each fresh partition, each stamped with a
CreateTime inside the window in which kcat ran.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from tests.kafka_clients.drivers import CLIENTS, load
from tests.kafka_clients.records import Record, by_partition, sample
from tests.kafka_clients.servers import create_topic, unique_topic

CLOCK_SLACK_MS = 2000
READ_TIMEOUT = 45.0  # a dozen records: seconds even on a slow shared machine; a broken reader fails in this


@dataclass(frozen=True)
class Written:
    topic: str
    records: list[Record]  # as they must read back, per partition in order
    window: tuple[int, int]  # wall-clock ms around the write, for client-stamped CreateTimes

    @property
    def counts(self) -> dict[int, int]:
        return {p: len(rs) for p, rs in by_partition(self.records).items()}


def write_sample(writer: str, bootstrap: str, *, compression: str | None = None, partitions: int = 3) -> Written:
    """A fresh topic holding `writer`'s sample, and what every reader must see of it."""
    info = CLIENTS[writer]
    records = sample(
        partitions, client_timestamps=not info.sets_timestamps, nulls=info.writes_nulls, repeat=30 if compression else 1
    )
    topic = unique_topic(f"{writer}-{compression or 'plain'}")
    create_topic(bootstrap, topic, partitions)
    t0 = int(time.time() * 1000)
    acked = load(writer).produce(bootstrap, topic, records, compression=compression, timeout=90)
    t1 = int(time.time() * 1000)
    assert len(acked) == len(records), f"{writer} acknowledged {len(acked)} of {len(records)} records"
    for sent, r in zip(records, acked, strict=True):
        assert (r.partition, r.key, r.value, r.headers) == (sent.partition, sent.key, sent.value, sent.headers), (
            f"{writer} acknowledged {r} for {sent}"
        )
        assert sent.timestamp is None or r.timestamp == sent.timestamp, (
            f"{writer}: {sent} acknowledged with CreateTime {r.timestamp}"
        )
    expected = []
    for p, rs in by_partition(acked).items():
        for i, r in enumerate(rs):
            assert r.offset == i or not info.reports_offsets, (
                f"{writer}: record {i} of fresh partition {p} acknowledged at offset {r.offset}"
            )
            expected.append(replace(r, offset=i))
    return Written(topic, expected, (t0 - CLOCK_SLACK_MS, t1 + CLOCK_SLACK_MS))


def assert_read_back(written: Written, got: list[Record], who: str) -> None:
    """`got` (in the order read) is exactly `written.records`, partition by partition."""
    want, have = by_partition(written.records), by_partition(got)
    assert sorted(have) == sorted(want), f"{who}: read partitions {sorted(have)}, wrote {sorted(want)}"
    lo, hi = written.window
    for p in want:
        expected = want[p]
        if any(e.timestamp is None for e in expected):  # stamped by the writer's client: check the window
            for g in have[p]:
                assert g.timestamp is not None and lo <= g.timestamp <= hi, (
                    f"{who}: partition {p} offset {g.offset} has CreateTime {g.timestamp}, outside {written.window}"
                )
            expected = [
                replace(e, timestamp=g.timestamp) if e.timestamp is None else e
                for e, g in zip(expected, have[p], strict=False)
            ]
        assert have[p] == expected, f"{who}: partition {p} differs:\n read  {have[p]}\n wrote {expected}"
