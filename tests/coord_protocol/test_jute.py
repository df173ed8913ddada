"""Jute primitives and framing: exact bytes, null vs empty, and malformed input that
must raise MarshallingError / FrameError (never IndexError or struct.error)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coord.protocol.framing import FrameError, FrameReader, frame
from coord.protocol.jute import JuteReader, JuteWriter, MarshallingError


def test_null_and_empty_buffers_differ() -> None:
    w = JuteWriter()
    w.write_buffer(None)
    w.write_buffer(b"")
    w.write_ustring(None)
    w.write_ustring("")
    assert w.getvalue() == bytes.fromhex("ffffffff 00000000 ffffffff 00000000")
    r = JuteReader(w.getvalue())
    assert [r.read_buffer(), r.read_buffer(), r.read_ustring(), r.read_ustring()] == [None, b"", None, ""]


def test_any_nonzero_byte_is_true() -> None:
    assert JuteReader(b"\x07").read_bool() is True
    assert JuteReader(b"\x00").read_bool() is False


@pytest.mark.parametrize(
    "data,read",
    [
        (b"\x00\x00\x00", JuteReader.read_int),
        (b"\x00" * 7, JuteReader.read_long),
        (b"", JuteReader.read_bool),
        (bytes.fromhex("00000005 6162"), JuteReader.read_buffer),
        (bytes.fromhex("fffffffe"), JuteReader.read_buffer),
        (bytes.fromhex("00000002 c328"), JuteReader.read_ustring),
        (bytes.fromhex("7fffffff"), lambda r: r.read_vector(JuteReader.read_int)),
        (bytes.fromhex("fffffff0"), lambda r: r.read_vector(JuteReader.read_int)),
    ],
)
def test_malformed_primitives_raise_marshalling_error(data: bytes, read) -> None:
    with pytest.raises(MarshallingError):
        read(JuteReader(data))


def test_out_of_range_values_cannot_be_written() -> None:
    with pytest.raises(MarshallingError):
        JuteWriter().write_int(2**31)
    with pytest.raises(MarshallingError):
        JuteWriter().write_long(-(2**63) - 1)


@given(st.lists(st.binary(max_size=50), max_size=20), st.integers(1, 17))
def test_frame_reader_reassembles_any_chunking(payloads: list[bytes], chunk: int) -> None:
    stream = b"".join(frame(p) for p in payloads)
    reader = FrameReader(100)
    out: list[bytes] = []
    for i in range(0, len(stream), chunk):
        out += reader.feed(stream[i : i + chunk])
    assert out == payloads and reader.pending() == 0


@pytest.mark.parametrize("length", [-1, -(2**31), 101])
def test_frame_reader_refuses_negative_or_oversized_lengths(length: int) -> None:
    with pytest.raises(FrameError, match=r"outside 0\.\.100"):
        FrameReader(100).feed(length.to_bytes(4, "big", signed=True))
