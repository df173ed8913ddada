"""Hand-built Kafka requests over a raw socket, for tests that must send what no client
sends: broken frames, lying headers, corrupt record batches.

Written from Kafka's protocol description (framing, request header v1, the non-flexible
layouts of ApiVersions v0, Metadata v4, Produce v3-v7, Fetch v4 and v11,
RecordBatch v2), not from any
client's code, so that it is a third opinion beside the clients' and the broker's. It
builds bytes and reads answers; it must never decide what an answer should be (the tests
do).
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

import crc32c

API_PRODUCE, API_FETCH, API_METADATA, API_API_VERSIONS = 0, 1, 3, 18
CORRUPT_MESSAGE, UNSUPPORTED_VERSION, UNSUPPORTED_COMPRESSION_TYPE, INVALID_RECORD = 2, 35, 76, 87


def i16(v: int) -> bytes:
    return struct.pack(">h", v)


def i32(v: int) -> bytes:
    return struct.pack(">i", v)


def i64(v: int) -> bytes:
    return struct.pack(">q", v)


def string(s: str | None) -> bytes:
    if s is None:
        return i16(-1)
    b = s.encode()
    return i16(len(b)) + b


def nbytes(b: bytes | None) -> bytes:
    return i32(-1) if b is None else i32(len(b)) + b


def array(items: list[bytes]) -> bytes:
    return i32(len(items)) + b"".join(items)


def header(api_key: int, version: int, correlation_id: int, client_id: str | None = "kwire") -> bytes:
    """Request header v1: api_key, api_version, correlation_id, client_id."""
    return i16(api_key) + i16(version) + i32(correlation_id) + string(client_id)


def frame(payload: bytes) -> bytes:
    return i32(len(payload)) + payload


# --- records -------------------------------------------------------------------------


def varint(v: int) -> bytes:
    """Zigzag varint, as inside records."""
    z = (v << 1) ^ (v >> 63)
    out = bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = z = 0
    while True:
        b = buf[pos]
        pos += 1
        z |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return (z >> 1) ^ -(z & 1), pos


def record(offset_delta: int, key: bytes | None, value: bytes | None, timestamp_delta: int = 0) -> bytes:
    body = (
        b"\x00"
        + varint(timestamp_delta)
        + varint(offset_delta)
        + (varint(-1) if key is None else varint(len(key)) + key)
        + (varint(-1) if value is None else varint(len(value)) + value)
        + varint(0)
    )
    return varint(len(body)) + body


@dataclass
class Batch:
    """A RecordBatch v2 to send; every field may be set to a lie on purpose."""

    records: list[tuple[bytes | None, bytes | None]]
    base_timestamp: int = 0
    attributes: int = 0
    record_count: int | None = None  # default: len(records)
    last_offset_delta: int | None = None  # default: len(records) - 1
    records_bytes: bytes | None = None  # default: the records, encoded
    crc: int | None = None  # default: the right CRC-32C

    def encode(self) -> bytes:
        base_ts = self.base_timestamp or int(time.time() * 1000)
        body = (
            self.records_bytes
            if self.records_bytes is not None
            else b"".join(record(i, k, v) for i, (k, v) in enumerate(self.records))
        )
        count = len(self.records) if self.record_count is None else self.record_count
        last = len(self.records) - 1 if self.last_offset_delta is None else self.last_offset_delta
        after_crc = (
            i16(self.attributes)
            + i32(last)
            + i64(base_ts)
            + i64(base_ts)
            + i64(-1)
            + i16(-1)
            + i32(-1)
            + i32(count)
            + body
        )
        crc = crc32c.crc32c(after_crc) if self.crc is None else self.crc
        after_length = i32(-1) + b"\x02" + struct.pack(">I", crc) + after_crc
        return i64(0) + i32(len(after_length)) + after_length


@dataclass
class StoredBatch:
    base_offset: int
    attributes: int
    records: list[tuple[int, bytes | None, bytes | None]]  # (offset, key, value); empty when compressed


def parse_batches(data: bytes) -> list[StoredBatch]:
    """Whole v2 batches in `data` (a partial one at the end is dropped, as clients do);
    records are decoded for uncompressed batches only, as many as the batch's bytes hold
    (whatever its record count claims)."""
    out, pos = [], 0
    while pos + 12 <= len(data):
        base_offset, length = struct.unpack_from(">qi", data, pos)
        end = pos + 12 + length
        if end > len(data):
            break
        attributes = struct.unpack_from(">h", data, pos + 21)[0]
        records = []
        if attributes & 7 == 0:
            rp = pos + 61
            while rp < end:
                _, rp = read_varint(data, rp)
                rp += 1
                _, rp = read_varint(data, rp)
                delta, rp = read_varint(data, rp)
                fields = []
                for _ in range(2):
                    n, rp = read_varint(data, rp)
                    fields.append(None if n < 0 else data[rp : rp + n])
                    rp += max(n, 0)
                headers, rp = read_varint(data, rp)
                for _ in range(headers):
                    for _ in range(2):
                        n, rp = read_varint(data, rp)
                        rp += max(n, 0)
                records.append((base_offset + delta, fields[0], fields[1]))
        out.append(StoredBatch(base_offset, attributes, records))
        pos = end
    return out


# --- requests and answers ------------------------------------------------------------


def produce_body(topic: str, partition: int, records: bytes, acks: int = -1, timeout_ms: int = 30000) -> bytes:
    """Produce v3-v7: transactional_id, acks, timeout, [topic, [partition, records]]."""
    return (
        string(None) + i16(acks) + i32(timeout_ms) + array([string(topic) + array([i32(partition) + nbytes(records)])])
    )


def fetch_body(topic: str, partition: int, offset: int = 0, max_bytes: int = 1 << 20) -> bytes:
    """Fetch v4: replica -1, max_wait, min_bytes, max_bytes, isolation, [topic, [partition, offset, max]]."""
    return (
        i32(-1)
        + i32(100)
        + i32(1)
        + i32(max_bytes)
        + b"\x00"
        + array([string(topic) + array([i32(partition) + i64(offset) + i32(max_bytes)])])
    )


def fetch_v11_body(topic: str, partition: int, offset: int = 0, max_bytes: int = 1 << 20) -> bytes:
    """Fetch v11 (the newest non-flexible; zstd needs v10+): sessionless, no rack."""
    return (
        i32(-1)
        + i32(100)
        + i32(1)
        + i32(max_bytes)
        + b"\x00"
        + i32(0)
        + i32(-1)
        + array([string(topic) + array([i32(partition) + i32(-1) + i64(offset) + i64(-1) + i32(max_bytes)])])
        + array([])
        + string("")
    )


def metadata_v4_body(topics: list[str], allow_auto_create: bool) -> bytes:
    """Metadata v4: [topic name], allow_auto_topic_creation."""
    return array([string(t) for t in topics]) + (b"\x01" if allow_auto_create else b"\x00")


class Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> int:
        v = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def string(self) -> str | None:
        n = self.take(">h")
        if n < 0:
            return None
        s = self.buf[self.pos : self.pos + n].decode()
        self.pos += n
        return s

    def bytes(self) -> bytes | None:
        n = self.take(">i")
        if n < 0:
            return None
        b = self.buf[self.pos : self.pos + n]
        self.pos += n
        return b


def parse_produce_v7(body: bytes) -> tuple[int, int]:
    """(error_code, base_offset) of the one partition a Produce v7 answer carries."""
    r = Reader(body)
    assert r.take(">i") == 1
    r.string()
    assert r.take(">i") == 1
    r.take(">i")
    error = r.take(">h")
    base_offset = r.take(">q")
    return error, base_offset


def parse_fetch_v4(body: bytes) -> tuple[int, int, bytes]:
    """(error_code, high_watermark, records) of the one partition a Fetch v4 answer carries."""
    r = Reader(body)
    r.take(">i")
    assert r.take(">i") == 1
    r.string()
    assert r.take(">i") == 1
    r.take(">i")
    error = r.take(">h")
    high_watermark = r.take(">q")
    r.take(">q")
    aborted = r.take(">i")
    for _ in range(max(aborted, 0)):
        r.take(">q")
        r.take(">q")
    return error, high_watermark, r.bytes() or b""


def parse_fetch_v11(body: bytes) -> tuple[int, int, bytes]:
    """(error_code, high_watermark, records) of the one partition a Fetch v11 answer carries."""
    r = Reader(body)
    r.take(">i")
    top_error = r.take(">h")
    r.take(">i")
    assert top_error == 0, f"Fetch v11 top-level error {top_error}"
    assert r.take(">i") == 1
    r.string()
    assert r.take(">i") == 1
    r.take(">i")
    error = r.take(">h")
    high_watermark = r.take(">q")
    r.take(">q")
    r.take(">q")
    aborted = r.take(">i")
    for _ in range(max(aborted, 0)):
        r.take(">q")
        r.take(">q")
    r.take(">i")
    return error, high_watermark, r.bytes() or b""


def parse_metadata_v4_topics(body: bytes) -> list[tuple[str, int, list[int]]]:
    """[(topic, error_code, [partition index])] of a Metadata v4 answer."""
    r = Reader(body)
    r.take(">i")
    for _ in range(r.take(">i")):
        r.take(">i")
        r.string()
        r.take(">i")
        r.string()
    r.string()
    r.take(">i")
    topics = []
    for _ in range(r.take(">i")):
        error = r.take(">h")
        name = r.string() or ""
        r.take(">b")
        partitions = []
        for _ in range(r.take(">i")):
            r.take(">h")
            partitions.append(r.take(">i"))
            r.take(">i")
            for _ in range(2):
                for _ in range(r.take(">i")):
                    r.take(">i")
        topics.append((name, error, partitions))
    return topics


def parse_api_versions_v0(body: bytes) -> tuple[int, dict[int, tuple[int, int]]]:
    """(error_code, {api_key: (min, max)}) in ApiVersions' v0 layout."""
    r = Reader(body)
    error = r.take(">h")
    table = {}
    for _ in range(r.take(">i")):
        key = r.take(">h")
        table[key] = (r.take(">h"), r.take(">h"))
    return error, table


class ClosedError(Exception):
    """The broker closed the connection (or reset it) instead of answering."""


class RawConn:
    """One TCP connection speaking hand-built frames; every wait is bounded."""

    def __init__(self, bootstrap: str, timeout: float = 30.0) -> None:
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.timeout = timeout
        self.next_id = 1

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            try:
                chunk = self.sock.recv(n - len(out))
            except ConnectionResetError:
                raise ClosedError("reset") from None
            if not chunk:
                raise ClosedError(f"closed after {len(out)} of {n} bytes")
            out += chunk
        return bytes(out)

    def read_frame(self) -> bytes:
        """The next response frame; ClosedError if the broker hung up; socket.timeout if it says nothing."""
        size = struct.unpack(">i", self._read(4))[0]
        return self._read(size)

    def call(self, api_key: int, version: int, body: bytes) -> bytes:
        """Send one request; its answer's body (after a correlation id that must match)."""
        corr = self.next_id
        self.next_id += 1
        self.send(frame(header(api_key, version, corr) + body))
        answer = self.read_frame()
        got = struct.unpack_from(">i", answer)[0]
        assert got == corr, f"answer to correlation id {corr} carries {got}"
        return answer[4:]

    def wait_closed(self) -> bool:
        """True if the broker closes this connection (EOF or reset) within the timeout,
        False if it answered something instead."""
        try:
            self.read_frame()
        except ClosedError:
            return True
        return False

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawConn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
