"""The frame codec on its own: splitting, limits, envelopes (no sockets)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.protocol.errors import BrokerError, ErrorCode, UnknownTopicOrPartitionError
from client.protocol.frames import (
    LENGTH, FrameDecoder, FrameTooLargeError, InvalidFrameError, decode_request,
    decode_response, encode_request, encode_response,
)

bodies = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(max_size=20) | st.binary(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)


@given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 5), st.integers(0, 2**31 - 1), bodies), max_size=8),
       st.lists(st.integers(1, 64), min_size=1, max_size=20))
def test_requests_survive_any_split(requests, cuts):
    stream = b"".join(encode_request(k, v, c, "cli", b) for k, v, c, b in requests)
    decoder = FrameDecoder()
    got, pos, i = [], 0, 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        decoder.feed(stream[pos:pos + step])
        pos, i = pos + step, i + 1
        got.extend(decode_request(f) for f in decoder.frames())
    assert [(r.api_key, r.api_version, r.correlation_id, r.body) for r in got] == requests
    assert decoder.buffered == 0


@given(bodies, st.binary(max_size=300))
def test_response_tail_is_everything_after_the_envelope(body, tail):
    frame = encode_response(7, body, tail)
    decoder = FrameDecoder()
    decoder.feed(frame)
    (payload,) = decoder.frames()
    resp = decode_response(payload)
    assert (resp.correlation_id, resp.body, bytes(resp.tail)) == (7, body, tail)


def test_negative_and_oversized_lengths_are_refused():
    d = FrameDecoder(max_frame_bytes=1000)
    d.feed(LENGTH.pack(-1))
    with pytest.raises(InvalidFrameError):
        d.next_frame()
    d = FrameDecoder(max_frame_bytes=1000)
    d.feed(LENGTH.pack(1001))
    with pytest.raises(FrameTooLargeError, match="1001 bytes"):
        d.next_frame()


def test_truncated_frame_waits_for_more():
    frame = encode_request(3, 0, 1, None, {})
    d = FrameDecoder()
    d.feed(frame[:-1])
    assert d.next_frame() is None and d.buffered == len(frame) - 1


@pytest.mark.parametrize("payload", [b"\xc1", b"\x93\x01\x02\x03", b"\x95\x01\x02\x03\xa1x\x80\x00", b"\x95\xa1x\x00\x00\xc0\x80"])
def test_malformed_request_envelopes_are_typed_errors(payload):
    with pytest.raises(InvalidFrameError):
        decode_request(payload)


def test_error_codes_map_to_exceptions():
    err = BrokerError.for_code(3, "no topic t")
    assert isinstance(err, UnknownTopicOrPartitionError) and err.retriable and "no topic t" in str(err)
    assert not BrokerError.for_code(ErrorCode.TOPIC_ALREADY_EXISTS).retriable
    assert BrokerError.for_code(12345).code is ErrorCode.UNKNOWN_SERVER_ERROR
