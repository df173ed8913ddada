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
"""

from __future__ import annotations

import enum
import gzip
import struct
import zlib
from collections.abc import Callable

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


def _gzip_decompress(data: Buffer) -> bytes:
    if bytes(data[:2]) != b"\x1f\x8b":
        raise ValueError("no gzip magic (1f 8b): this is not RFC 1952 gzip")
    return gzip.decompress(data)


def _snappy_compress(data: Buffer) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


def _snappy_decompress(data: Buffer) -> bytes:
    if bytes(data[:8]) != _XERIAL_MAGIC:
        return bytes(cramjam.snappy.decompress_raw(data))
    view, pos, out = memoryview(data), _XERIAL_HEADER.size, []
    if len(view) < pos:
        raise ValueError("xerial snappy header is truncated")
    while pos < len(view):
        if len(view) - pos < 4:
            raise ValueError(f"xerial snappy block length truncated at byte {pos}")
        (length,) = _BLOCK_LENGTH.unpack_from(view, pos)
        pos += 4
        if length < 0 or pos + length > len(view):
            raise ValueError(f"xerial snappy block of {length} bytes at byte {pos} runs past the end")
        out.append(bytes(cramjam.snappy.decompress_raw(view[pos:pos + length])))
        pos += length
    return b"".join(out)


def _lz4_compress(data: Buffer) -> bytes:
    compressor = cramjam.lz4.Compressor(block_linked=False)
    compressor.compress(data)
    return bytes(compressor.finish())


def _lz4_decompress(data: Buffer) -> bytes:
    return bytes(cramjam.lz4.decompress(data))


def _zstd_compress(data: Buffer) -> bytes:
    return bytes(cramjam.zstd.compress(data))


def _zstd_decompress(data: Buffer) -> bytes:
    return bytes(cramjam.zstd.decompress(data))


_CODECS: dict[int, tuple[Callable[[Buffer], bytes], Callable[[Buffer], bytes]]] = {
    Compression.GZIP: (_gzip_compress, _gzip_decompress),
    Compression.SNAPPY: (_snappy_compress, _snappy_decompress),
    Compression.LZ4: (_lz4_compress, _lz4_decompress),
    Compression.ZSTD: (_zstd_compress, _zstd_decompress),
}


def _unknown(codec: int) -> UnsupportedCompressionError:
    return UnsupportedCompressionError(
        f"compression codec {codec} is unknown (Kafka's are 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd)")


def compress(codec: int, data: Buffer) -> Buffer:
    """`data` compressed with `codec` (returned as is for none)."""
    if codec == Compression.NONE:
        return data
    if codec not in _CODECS:
        raise _unknown(codec)
    return _CODECS[codec][0](data)


def decompress(codec: int, data: Buffer) -> Buffer:
    """`data` decompressed with `codec` (returned as is for none); CorruptBatchError if it does not."""
    if codec == Compression.NONE:
        return data
    if codec not in _CODECS:
        raise _unknown(codec)
    try:
        return _CODECS[codec][1](data)
    except (ValueError, OSError, EOFError, zlib.error, cramjam.DecompressionError) as exc:
        raise CorruptBatchError(f"{Compression(codec).name.lower()} records do not decompress: {exc}") from None
