"""A data directory written in pybroker's earlier msgpack record format is refused at
start with a message naming that format; Kafka v2 data (ours, or copied from Kafka)
opens and gets the format marker; nothing is ever converted."""

from __future__ import annotations

import subprocess
import sys
import zlib
from pathlib import Path

import msgpack
import pytest
from kafka.record.default_records import DefaultRecordBatchBuilder

from broker.log import LogConfig, PartitionLog
from broker.log.record_format import MARKER, OldRecordFormatError, ensure, unreadable_dirs
from client.protocol.record_batch import build_batch, pack_batch
from tests.support.ports import free_ports

SEGMENT = "00000000000000000000.log"


def old_batch(gzip: bool = False) -> bytes:
    """A batch as the msgpack format wrote it: the same header and crc, one msgpack array of
    [offset_delta, timestamp_delta, key, value, headers] records (zlib when 'gzip')."""
    records = msgpack.packb([[0, 0, b"k", b"v", []], [1, 0, None, b"w", [["h", b"x"]]]], use_bin_type=True)
    return pack_batch(
        zlib.compress(records) if gzip else records,
        base_offset=0,
        last_offset_delta=1,
        record_count=2,
        attributes=1 if gzip else 0,
        base_timestamp=5,
        max_timestamp=5,
    )


def partition_dir(data_dir: Path, name: str, segment: bytes) -> Path:
    directory = data_dir / name
    directory.mkdir(parents=True)
    (directory / SEGMENT).write_bytes(segment)
    return directory


@pytest.mark.parametrize("gzip", [False, True])
def test_the_msgpack_format_is_refused_and_named(tmp_path, gzip) -> None:
    directory = partition_dir(tmp_path, "old-0", old_batch(gzip))
    with pytest.raises(OldRecordFormatError, match="pybroker's msgpack record format") as refused:
        PartitionLog.open(directory, LogConfig())
    assert "move the data directory aside" in str(refused.value)
    assert not (directory / MARKER).exists()
    assert (directory / SEGMENT).read_bytes() == old_batch(gzip)  # untouched
    assert len(unreadable_dirs(tmp_path)) == 1


def test_unknown_bytes_are_refused_as_unknown(tmp_path) -> None:
    directory = partition_dir(
        tmp_path,
        "odd-0",
        pack_batch(
            b"\xc1\xc1",
            base_offset=0,
            last_offset_delta=0,
            record_count=1,
            attributes=0,
            base_timestamp=0,
            max_timestamp=0,
        ),
    )
    with pytest.raises(OldRecordFormatError, match="an unknown record format"):
        ensure(directory)


def test_new_logs_carry_the_marker_and_reopen(tmp_path) -> None:
    plog = PartitionLog.open(tmp_path / "new-0", LogConfig())
    assert (tmp_path / "new-0" / MARKER).read_text() == "kafka-record-batch-v2\n"
    plog.append(build_batch([(b"k", b"v", None, 1)]))
    plog.flush()
    plog.close()
    PartitionLog.open(tmp_path / "new-0", LogConfig()).close()
    assert unreadable_dirs(tmp_path) == []


def test_kafka_v2_data_without_a_marker_opens(tmp_path) -> None:
    """A segment of v2 records that no pybroker wrote (kafka-python's, standing in for a
    log copied from Kafka) is recognised by its first batch, and gets the marker."""
    builder = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 1 << 20)
    builder.append(0, timestamp=7, key=b"k", value=b"v", headers=[])
    directory = partition_dir(tmp_path, "copied-0", bytes(builder.build()))
    assert unreadable_dirs(tmp_path) == []
    plog = PartitionLog.open(directory, LogConfig())
    assert plog.log_end_offset == 1 and (directory / MARKER).exists()
    plog.close()


def test_pybroker_start_refuses_an_old_data_dir(tmp_path) -> None:
    """The whole node: exit status 1 and the message, before anything is served."""
    partition_dir(tmp_path / "node" / "logs", "orders-0", old_batch())
    broker_port, coord_port = free_ports(2)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "broker",
            "start",
            "--data-dir",
            str(tmp_path / "node"),
            "--broker-port",
            str(broker_port),
            "--coord-port",
            str(coord_port),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "orders-0 holds pybroker's msgpack record format" in proc.stderr
