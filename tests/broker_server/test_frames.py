"""Kafka frames on their own, as the broker's connection uses them: cutting a byte stream into
frames, decoding request headers and bodies, refusing what is not served, and writing
responses whose record bytes stay file slices (no sockets)."""

from __future__ import annotations

import tempfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.protocol import messages as m
from client.protocol.api import SUPPORTED_VERSIONS, ApiKey
from client.protocol.errors import BrokerError, ErrorCode, UnknownTopicOrPartitionError
from client.protocol.frames import LENGTH, FrameDecoder, FrameError, FrameTooLargeError, InvalidFrameError
from client.protocol.kafka_frames import (
    RequestHeader,
    UnsupportedRequestError,
    decode_request,
    decode_response,
    encode_request,
    response_parts,
)

names = st.text(alphabet="abcxyz-._", min_size=1, max_size=12)
metadata_requests = st.builds(
    lambda ts: m.MetadataRequest(topics=[m.MetadataRequest.MetadataRequestTopic(name=t) for t in ts]),
    st.lists(names, max_size=4),
)


@given(
    st.lists(st.tuples(st.integers(0, 12), st.integers(0, 2**31 - 1), metadata_requests), max_size=8),
    st.lists(st.integers(1, 64), min_size=1, max_size=20),
)
def test_requests_survive_any_split(requests, cuts):
    stream = b"".join(encode_request(RequestHeader(ApiKey.METADATA, v, c, "cli"), body) for v, c, body in requests)
    decoder = FrameDecoder()
    got, pos, i = [], 0, 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        decoder.feed(stream[pos : pos + step])
        pos, i = pos + step, i + 1
        got.extend(decode_request(f) for f in decoder.frames())
    assert [(h.api_version, h.correlation_id, [t.name for t in b.topics]) for h, b in got] == [
        (v, c, [t.name for t in body.topics]) for v, c, body in requests
    ]
    assert all(h.client_id == "cli" for h, _ in got)
    assert decoder.buffered == 0


class FileSlice:
    """What the log's ReadSlice is to the codec: bytes of an open file, by length."""

    def __init__(self, file, position: int, length: int) -> None:
        self.file, self.position, self.length = file, position, length


@given(st.binary(max_size=300), st.integers(0, 40))
def test_fetch_response_parts_keep_file_slices_in_place(data, skip):
    with tempfile.TemporaryFile() as f:
        f.write(b"?" * skip + data)
        piece = FileSlice(f, skip, len(data))
        header = RequestHeader(ApiKey.FETCH, 12, 7, "c")
        body = m.FetchResponse(
            responses=[
                m.FetchResponse.FetchableTopicResponse(
                    topic="t",
                    partitions=[m.FetchResponse.PartitionData(partition_index=0, high_watermark=5, records=piece)],
                )
            ]
        )
        parts = response_parts(header, body)
        assert piece in parts
        wire = b"".join(p if isinstance(p, bytes) else data for p in parts)
        (size,) = LENGTH.unpack_from(wire)
        assert size == len(wire) - 4
        back = decode_response(wire[4:], header)
        assert bytes(back.responses[0].partitions[0].records) == data


def test_unserved_keys_and_versions_are_refused_with_the_header_read():
    for key, version in ((999, 0), (ApiKey.METADATA, 13), (ApiKey.FETCH, 3), (ApiKey.API_VERSIONS, 4)):
        payload = encode_request(RequestHeader(ApiKey.METADATA, 1, 42, "c"), m.MetadataRequest())[4:]
        payload = key.to_bytes(2, "big", signed=True) + version.to_bytes(2, "big") + payload[4:]
        with pytest.raises(UnsupportedRequestError) as refused:
            decode_request(payload)
        assert (refused.value.header.api_key, refused.value.header.api_version) == (key, version)
        assert refused.value.header.correlation_id == 42


@pytest.mark.parametrize("payload", [b"", b"\x00\x03\x00", b"\x00\x03\x00\x01\x00\x00\x00\x01\x00\x09ab"])
def test_malformed_requests_are_typed_frame_errors(payload):
    with pytest.raises(FrameError):
        decode_request(payload)


def test_every_served_version_decodes_a_default_request():
    for key, (low, high) in SUPPORTED_VERSIONS.items():
        spec = m.API_BY_KEY[key]
        for version in range(low, high + 1):
            header = RequestHeader(int(key), version, 1, "c")
            got_header, body = decode_request(encode_request(header, spec.request())[4:])
            assert got_header[:3] == header[:3] and isinstance(
                body, spec.request
            )  # ControlledShutdown v0: no client id


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
    data = encode_request(RequestHeader(ApiKey.METADATA, 0, 1, None), m.MetadataRequest())
    d = FrameDecoder()
    d.feed(data[:-1])
    assert d.next_frame() is None and d.buffered == len(data) - 1


def test_error_codes_map_to_exceptions():
    err = BrokerError.for_code(3, "no topic t")
    assert isinstance(err, UnknownTopicOrPartitionError) and err.retriable and "no topic t" in str(err)
    assert not BrokerError.for_code(ErrorCode.TOPIC_ALREADY_EXISTS).retriable
    assert BrokerError.for_code(12345).code is ErrorCode.UNKNOWN_SERVER_ERROR
