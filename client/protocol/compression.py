"""The compression codecs of a record batch, as Kafka numbers and frames them.

The records of a batch (everything after its 61-byte header) are compressed as one
stream when the attributes' low three bits name a codec:

    0 none
    1 gzip    RFC 1952 gzip members (what Kafka means by gzip; a bare zlib stream is not gzip)
    2 snappy  either raw snappy (what librdkafka sends) or xerial's framing (what the
              Java and kafka-python clients send): the 16-byte header
              82 'SNAPPY' 00, int32 version, int32 compatible version, then blocks of
              int32 length + raw snappy. We decode both and encode raw: every reader we
              know reads raw (xerial's SnappyInputStream falls back to raw when the magic
              is missing, librdkafka and kafka-python check for the magic first), and raw
              is one call with no framing to get wrong.
    3 lz4     the LZ4 frame format, with independent blocks (Kafka's Java reader refuses
              linked blocks)
    4 zstd    a zstd frame
    5-7       unknown: refused

gzip uses the standard library; snappy, lz4 and zstd use cramjam (one maintained
binding for the three). This module must never look inside the records: bytes in,
bytes out, and any failure is a CorruptBatchError saying which codec failed.

A few kilobytes of zstd or gzip can inflate to gigabytes (a decompression bomb), and the
leader decompresses every produced batch to validate it, so decompress() takes a
`limit`: it never produces more than `limit` bytes, refusing the batch (CorruptBatchError,
Kafka's CORRUPT_MESSAGE) as soon as the output would pass it, before the rest is made.
"""

from __future__ import annotations

import enum
import gzip
import mmap
import struct
import zlib
from collections.abc import Callable
from types import ModuleType

import cramjam

from client.protocol.batch_errors import CorruptBatchError, UnsupportedCompressionError

_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = struct.Struct(">8sii")
_BLOCK_LENGTH = struct.Struct(">i")
_GZIP_LEVEL = 6  # zlib's default: librdkafka and the JVM use it too


class Compression(enum.IntEnum):
    """Codec ids in the attributes' low bits, numbered as Kafka numbers them."""

    NONE = 0
    GZIP = 1
    SNAPPY = 2
    LZ4 = 3
    ZSTD = 4


Buffer = bytes | bytearray | memoryview


def _gzip_compress(data: Buffer) -> bytes:
    return gzip.compress(data, _GZIP_LEVEL, mtime=0)


class _TooLargeError(Exception):
    """The output would pass the caller's limit."""


def _gzip_decompress(data: Buffer, limit: int | None) -> bytes:
    if bytes(data[:2]) != b"\x1f\x8b":
        raise ValueError("no gzip magic (1f 8b): this is not RFC 1952 gzip")
    if limit is None:
        return gzip.decompress(data)
    out, total, rest = [], 0, bytes(data)
    while rest:  # one gzip member per turn: a batch may hold several
        member = zlib.decompressobj(wbits=31)
        chunk = member.decompress(rest, limit - total + 1)  # never 0 (which would mean no limit)
        out.append(chunk)
        total += len(chunk)
        if total > limit:
            raise _TooLargeError
        if not member.eof:
            raise ValueError("the gzip stream ends before its end-of-stream marker")
        rest = member.unused_data
    return b"".join(out)


def _snappy_compress(data: Buffer) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


def _snappy_raw(data: Buffer, limit: int | None) -> bytes:
    if limit is not None and cramjam.snappy.decompress_raw_len(data) > limit:  # snappy states its length first
        raise _TooLargeError
    return bytes(cramjam.snappy.decompress_raw(data))


def _snappy_decompress(data: Buffer, limit: int | None) -> bytes:
    if bytes(data[:8]) != _XERIAL_MAGIC:
        return _snappy_raw(data, limit)
    view, pos, out, total = memoryview(data), _XERIAL_HEADER.size, [], 0
    if len(view) < pos:
        raise ValueError("xerial snappy header is truncated")
    while pos < len(view):
        if len(view) - pos < 4:
            raise ValueError(f"xerial snappy block length truncated at byte {pos}")
        (length,) = _BLOCK_LENGTH.unpack_from(view, pos)
        pos += 4
        if length < 0 or pos + length > len(view):
            raise ValueError(f"xerial snappy block of {length} bytes at byte {pos} runs past the end")
        out.append(_snappy_raw(view[pos : pos + length], None if limit is None else limit - total))
        total += len(out[-1])
        pos += length
    return b"".join(out)


def _lz4_compress(data: Buffer) -> bytes:
    compressor = cramjam.lz4.Compressor(block_linked=False)
    compressor.compress(data)
    return bytes(compressor.finish())


def _bounded(module: ModuleType, data: Buffer, limit: int | None) -> bytes:
    """cramjam's frame decompression into a buffer it cannot overrun (cramjam fails once
    the buffer is full): first a guess from the input's size, doubled until the output
    fits or the buffer is one byte past `limit`. So no more than about twice the real
    output, and never more than limit + 1 bytes, is ever mapped."""
    if limit is None:
        return bytes(module.decompress(data))
    size = min(limit + 1, max(len(data) * 16, 1 << 20))  # pages cost only once written: guess high
    while True:
        # An anonymous map, not a bytearray: the kernel hands out zero pages as they are
        # written, where bytearray(64 MiB) would clear every byte first (~70 ms).
        with mmap.mmap(-1, size) as out:
            try:
                made = module.decompress_into(data, out)
            except cramjam.DecompressionError as exc:
                if "whole buffer" not in str(exc):  # cramjam's words for "the output buffer is full"
                    raise
                made = size
            if made < size:
                return out[:made]
        if size > limit:
            raise _TooLargeError
        size = min(limit + 1, size * 2)


def _lz4_decompress(data: Buffer, limit: int | None) -> bytes:
    return _bounded(cramjam.lz4, data, limit)


def _zstd_compress(data: Buffer) -> bytes:
    return bytes(cramjam.zstd.compress(data))


def _zstd_decompress(data: Buffer, limit: int | None) -> bytes:
    return _bounded(cramjam.zstd, data, limit)


_CODECS: dict[int, tuple[Callable[[Buffer], bytes], Callable[[Buffer, int | None], bytes]]] = {
    Compression.GZIP: (_gzip_compress, _gzip_decompress),
    Compression.SNAPPY: (_snappy_compress, _snappy_decompress),
    Compression.LZ4: (_lz4_compress, _lz4_decompress),
    Compression.ZSTD: (_zstd_compress, _zstd_decompress),
}


def _unknown(codec: int) -> UnsupportedCompressionError:
    return UnsupportedCompressionError(
        f"compression codec {codec} is unknown (Kafka's are 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd)"
    )


def compress(codec: int, data: Buffer) -> Buffer:
    """`data` compressed with `codec` (returned as is for none)."""
    if codec == Compression.NONE:
        return data
    if codec not in _CODECS:
        raise _unknown(codec)
    return _CODECS[codec][0](data)


def decompress(codec: int, data: Buffer, limit: int | None = None) -> Buffer:
    """`data` decompressed with `codec` (returned as is for none); CorruptBatchError if it
    does not decompress, or would decompress to more than `limit` bytes."""
    if codec == Compression.NONE:
        return data
    if codec not in _CODECS:
        raise _unknown(codec)
    name = Compression(codec).name.lower()
    try:
        return _CODECS[codec][1](data, limit)
    except _TooLargeError:
        raise CorruptBatchError(
            f"{len(data)} bytes of {name} records decompress to more than {limit} bytes, "
            "the most this broker unpacks from one batch"
        ) from None
    except (ValueError, OSError, EOFError, zlib.error, cramjam.DecompressionError) as exc:
        raise CorruptBatchError(f"{name} records do not decompress: {exc}") from None
