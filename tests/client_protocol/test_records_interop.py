"""Our batches against implementations we did not write: kafka-python's and aiokafka's.

Both ways, for every codec each supports here: a batch we build is read back by theirs
(crc, offsets, timestamps, keys, values, headers), and a batch theirs builds is read by
ours. kafka-python reads and writes gzip with the standard library and needs optional
packages for the other codecs; aiokafka (its C records and its pure-Python ones) does
all four, and writes snappy in xerial's framing, which is the framing we do not write.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.protocol.record_batch import Compression, build_batch, decode_batch, read_header
from tests.client_protocol.strategies import records

kafka_codec = pytest.importorskip("kafka.codec")
kafka_records = pytest.importorskip("kafka.record.default_records")
aiokafka_records = pytest.importorskip("aiokafka.record.default_records")

_KAFKA_PYTHON_HAS = {
    Compression.NONE: lambda: True,
    Compression.GZIP: kafka_codec.has_gzip,
    Compression.SNAPPY: kafka_codec.has_snappy,
    Compression.LZ4: kafka_codec.has_lz4,
    Compression.ZSTD: kafka_codec.has_zstd,
}
KAFKA_PYTHON_CODECS = [c for c in Compression if _KAFKA_PYTHON_HAS[c]()]

# (builder class, batch class) of each independent implementation
IMPLEMENTATIONS = {
    "kafka-python": (kafka_records.DefaultRecordBatchBuilder, kafka_records.DefaultRecordBatch, KAFKA_PYTHON_CODECS),
    "aiokafka-c": (aiokafka_records.DefaultRecordBatchBuilder, aiokafka_records.DefaultRecordBatch, list(Compression)),
    "aiokafka-py": (
        aiokafka_records._DefaultRecordBatchBuilderPy,
        aiokafka_records._DefaultRecordBatchPy,
        list(Compression),
    ),
}
CASES = [(name, codec) for name, (_, _, codecs) in IMPLEMENTATIONS.items() for codec in codecs]


def _expected(recs, base_offset):
    return [(base_offset + i, ts, k, v, [tuple(h) for h in hs or []]) for i, (k, v, hs, ts) in enumerate(recs)]


@pytest.mark.slow
@pytest.mark.parametrize("impl, codec", CASES)
@settings(max_examples=40, deadline=None)
@given(recs=records, base_offset=st.integers(0, 2**40))
def test_they_read_ours(impl, codec, recs, base_offset) -> None:
    _, batch_class, _ = IMPLEMENTATIONS[impl]
    data = build_batch(
        recs, base_offset=base_offset, compression=codec, producer_id=7, producer_epoch=1, base_sequence=3
    )
    batch = batch_class(bytearray(data))
    assert batch.validate_crc()
    assert (
        batch.base_offset,
        batch.compression_type,
        batch.producer_id,
        batch.producer_epoch,
        batch.base_sequence,
    ) == (base_offset, int(codec), 7, 1, 3)
    got = [(r.offset, r.timestamp, r.key, r.value, [(k, v) for k, v in r.headers]) for r in batch]
    assert [(o, t, _b(k), _b(v), [(hk, _b(hv)) for hk, hv in h]) for o, t, k, v, h in got] == _expected(
        recs, base_offset
    )


@pytest.mark.slow
@pytest.mark.parametrize("impl, codec", CASES)
@settings(max_examples=40, deadline=None)
@given(recs=records, base_offset=st.integers(0, 2**40))
def test_we_read_theirs(impl, codec, recs, base_offset) -> None:
    """Their builder takes the first record's timestamp as the base, so a later record
    with an earlier timestamp makes a negative delta."""
    builder_class, _, _ = IMPLEMENTATIONS[impl]
    builder = builder_class(2, int(codec), 0, -1, -1, -1, 1 << 30)
    for i, (k, v, hs, ts) in enumerate(recs):
        assert builder.append(i, timestamp=ts, key=k, value=v, headers=list(hs or [])) is not None
    data = bytearray(builder.build())
    data[0:8] = base_offset.to_bytes(8, "big")
    header = read_header(data)
    assert header.record_count == len(recs)
    assert header.compression in (int(codec), Compression.NONE)  # kafka-python keeps what does not shrink
    assert [tuple(r) for r in decode_batch(data)] == _expected(recs, base_offset)


@pytest.mark.parametrize("impl, codec", [case for case in CASES if case[1] != Compression.NONE])
def test_we_read_their_compressed_batch(impl, codec) -> None:
    builder_class, _, _ = IMPLEMENTATIONS[impl]
    builder = builder_class(2, int(codec), 0, -1, -1, -1, 1 << 30)
    values = [b"value %d " % i * 50 for i in range(500)]  # compressible, > one 64 KiB lz4/xerial block
    for i, value in enumerate(values):
        builder.append(i, timestamp=1_000 + i, key=b"k%d" % i, value=value, headers=[("h", None)])
    data = bytes(builder.build())
    assert read_header(data).compression == codec
    assert [r.value for r in decode_batch(data)] == values


def test_negative_timestamp_deltas_from_another_client() -> None:
    builder = kafka_records.DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 1 << 20)
    for i, ts in enumerate([1_000, 10, 999_999, 0]):
        builder.append(i, timestamp=ts, key=None, value=b"v", headers=[])
    data = bytes(builder.build())
    assert read_header(data).base_timestamp == 1_000
    assert [r.timestamp for r in decode_batch(data)] == [1_000, 10, 999_999, 0]


def _b(value):
    return None if value is None else bytes(value)
