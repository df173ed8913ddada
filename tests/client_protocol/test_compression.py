"""The codecs: Kafka's framings (gzip is RFC 1952, lz4 is a frame of independent blocks,
snappy is raw or xerial), refusal of damaged streams and of codecs 5-7."""

from __future__ import annotations

import struct
import zlib

import cramjam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.protocol.batch_errors import CorruptBatchError, UnsupportedCompressionError
from client.protocol.compression import Compression, compress, decompress

DATA = b"".join(b"record %d of a batch, " % i for i in range(5_000))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(list(Compression)), st.binary(max_size=3_000) | st.just(DATA))
def test_round_trip(codec, data) -> None:
    assert bytes(decompress(codec, compress(codec, data))) == data


def test_gzip_is_rfc_1952_and_a_bare_zlib_stream_is_refused() -> None:
    packed = compress(Compression.GZIP, DATA)
    assert packed[:3] == b"\x1f\x8b\x08"  # gzip magic, deflate
    with pytest.raises(CorruptBatchError, match="gzip"):
        decompress(Compression.GZIP, zlib.compress(DATA))


def test_gzip_of_several_members_reads_whole() -> None:
    import gzip

    assert decompress(Compression.GZIP, gzip.compress(b"one ") + gzip.compress(b"two")) == b"one two"


def test_lz4_frames_have_independent_blocks() -> None:
    """Kafka's Java reader refuses a frame whose FLG byte does not set block independence."""
    packed = compress(Compression.LZ4, DATA)
    assert packed[:4] == b"\x04\x22\x4d\x18"
    flg = packed[4]
    assert flg >> 6 == 1 and flg & 0x20


def test_snappy_is_written_raw_and_read_in_both_framings() -> None:
    packed = compress(Compression.SNAPPY, DATA)
    assert bytes(cramjam.snappy.decompress_raw(packed)) == DATA
    blocks = [bytes(cramjam.snappy.compress_raw(DATA[i : i + 32_768])) for i in range(0, len(DATA), 32_768)]
    xerial = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1) + b"".join(struct.pack(">i", len(b)) + b for b in blocks)
    assert len(blocks) > 1
    assert decompress(Compression.SNAPPY, xerial) == DATA


@pytest.mark.parametrize("codec", [c for c in Compression if c != Compression.NONE])
def test_damaged_streams_are_corrupt_batches(codec) -> None:
    packed = compress(codec, DATA)
    for damaged in (packed[: len(packed) // 2], b"\x00" * 40, packed[:1]):
        with pytest.raises(CorruptBatchError, match=codec.name.lower()):
            decompress(codec, damaged)


def test_a_xerial_block_running_past_the_end_is_refused() -> None:
    xerial = b"\x82SNAPPY\x00" + struct.pack(">iii", 1, 1, 1_000) + b"abc"
    with pytest.raises(CorruptBatchError, match="runs past the end"):
        decompress(Compression.SNAPPY, xerial)


@pytest.mark.parametrize("codec", [5, 6, 7])
def test_codecs_5_to_7_are_unknown(codec) -> None:
    with pytest.raises(UnsupportedCompressionError, match=f"codec {codec} is unknown"):
        decompress(codec, b"x")
    with pytest.raises(UnsupportedCompressionError):
        compress(codec, b"x")


def test_a_zstd_frame_without_content_size_reads() -> None:
    """Streaming encoders (librdkafka's among them) may leave the frame's size unset."""
    streaming = cramjam.zstd.Compressor()
    streaming.compress(DATA)
    frame = bytes(streaming.finish())
    assert frame[4] & 0xC0 == 0  # frame header descriptor: no content size
    assert decompress(Compression.ZSTD, frame) == DATA


def test_lz4_frames_with_linked_blocks_read_too() -> None:
    """We write independent blocks; a reader should not care what another writer chose."""
    linked = cramjam.lz4.Compressor(block_linked=True)
    linked.compress(DATA)
    assert decompress(Compression.LZ4, bytes(linked.finish())) == DATA


def _framings() -> list[tuple[Compression, bytes]]:
    """Each codec in each framing we read, all holding DATA."""
    import gzip

    streaming = cramjam.zstd.Compressor()
    streaming.compress(DATA)
    linked = cramjam.lz4.Compressor(block_linked=True)
    linked.compress(DATA)
    half = len(DATA) // 2
    blocks = [bytes(cramjam.snappy.compress_raw(DATA[i : i + 32_768])) for i in range(0, len(DATA), 32_768)]
    xerial = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1) + b"".join(struct.pack(">i", len(b)) + b for b in blocks)
    return [pytest.param(c, compress(c, DATA), id=c.name.lower()) for c in Compression if c != Compression.NONE] + [
        pytest.param(Compression.GZIP, gzip.compress(DATA[:half]) + gzip.compress(DATA[half:]), id="gzip-two-members"),
        pytest.param(Compression.ZSTD, bytes(streaming.finish()), id="zstd-streamed"),
        pytest.param(Compression.LZ4, bytes(linked.finish()), id="lz4-block-linked"),
        pytest.param(Compression.SNAPPY, xerial, id="snappy-xerial"),
    ]


# Ids name the framing: the packed bytes would make unstable ids (gzip stamps the time).
@pytest.mark.parametrize("codec, packed", _framings())
def test_a_limit_refuses_one_byte_more_and_passes_exactly_enough(codec, packed) -> None:
    assert decompress(codec, packed, len(DATA)) == DATA
    with pytest.raises(
        CorruptBatchError, match=f"{codec.name.lower()} records decompress to more than {len(DATA) - 1} bytes"
    ):
        decompress(codec, packed, len(DATA) - 1)


@pytest.mark.parametrize("codec", [c for c in Compression if c != Compression.NONE])
def test_damaged_streams_are_corrupt_under_a_limit_too(codec) -> None:
    packed = compress(codec, DATA)
    for damaged in (packed[: len(packed) // 2], b"\x00" * 40, packed[:1]):
        with pytest.raises(CorruptBatchError, match=codec.name.lower()):
            decompress(codec, damaged, 10 * len(DATA))


@pytest.mark.parametrize("codec", [Compression.LZ4, Compression.ZSTD])
def test_an_output_far_past_the_first_guess_grows_to_the_limit(codec) -> None:
    """lz4 and zstd decompress into a buffer guessed from the input and doubled: 3 MB of
    zeros outgrow the first guess and still come back whole, or refused one byte short."""
    data = DATA + b"\0" * 3_000_000
    packed = compress(codec, data)
    assert len(packed) * 16 < len(data) - (1 << 20)
    assert decompress(codec, packed, 8_000_000) == data
    with pytest.raises(CorruptBatchError, match="decompress to more than"):
        decompress(codec, packed, len(data) - 1)
