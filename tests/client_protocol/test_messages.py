"""Every (api, version) of the generated codec round-trips, and bad bytes give DecodeError."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client.protocol import messages as m
from client.protocol.kafka_frames import (
    RequestHeader,
    UnsupportedRequestError,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    response_parts,
)
from client.protocol.schema import FieldSpec, StructSpec

_INT = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}


def _value(spec: FieldSpec, version: int, cls: type, depth: int) -> st.SearchStrategy:
    def one() -> st.SearchStrategy:
        if spec.type in _INT:
            bits = _INT[spec.type]
            return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
        if spec.type == "uint16":
            return st.integers(0, 0xFFFF)
        if spec.type == "uint32":
            return st.integers(0, 0xFFFFFFFF)
        if spec.type == "float64":
            return st.floats(allow_nan=False)
        if spec.type == "bool":
            return st.booleans()
        if spec.type == "uuid":
            return st.binary(min_size=16, max_size=16)
        if spec.type == "string":
            return st.text(max_size=8)
        if spec.type in ("bytes", "records"):
            return st.binary(max_size=16)
        return _struct(getattr(_top(cls), spec.type), version, depth + 1)

    single = one()
    if spec.array:
        single = st.lists(single, max_size=2 if depth < 3 else 0)
    if spec.nullable_in(version) and (spec.type != "records" or not spec.array):
        single = st.one_of(st.none(), single)
    return single


def _top(cls: type) -> type:
    return getattr(m, cls.__qualname__.split(".")[0])


def _struct(cls: type, version: int, depth: int = 0) -> st.SearchStrategy:
    spec: StructSpec = cls._spec
    fields = {f.name: _value(f, version, cls, depth) for f in spec.fields if version in f.versions}
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


def _normalize(obj):
    """Records decode as memoryviews; compare them as bytes."""
    if isinstance(obj, m.Message):
        for name in obj.__slots__:
            setattr(obj, name, _normalize(getattr(obj, name)))
        return obj
    if isinstance(obj, list):
        return [_normalize(x) for x in obj]
    if isinstance(obj, memoryview):
        return bytes(obj)
    return obj


CASES = [
    (spec, version, kind)
    for spec in m.API_BY_KEY.values()
    for version in range(spec.min_version, spec.max_version + 1)
    for kind in ("request", "response")
]


@pytest.mark.slow
@pytest.mark.parametrize("spec,version,kind", CASES, ids=[f"{s.name}{k.title()}-v{v}" for s, v, k in CASES])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_version_round_trips(spec, version, kind, data):
    cls = getattr(spec, kind)
    message = data.draw(_struct(cls, version))
    encoded = message.encode(version)
    assert _normalize(cls.decode(encoded, version)) == _normalize(message)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(m.DATA))
@given(data=st.data())
@settings(max_examples=20, deadline=None)
def test_data_structs_round_trip(name, data):
    cls = m.DATA[name]
    for version in range(cls._versions.low, cls._versions.high + 1):
        message = data.draw(_struct(cls, version))
        assert _normalize(cls.decode(message.encode(version), version)) == _normalize(message)


@pytest.mark.slow
@pytest.mark.parametrize("spec,version,kind", CASES[::7], ids=[f"{s.name}{k}-v{v}" for s, v, k in CASES[::7]])
@given(data=st.data())
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_truncated_or_extended_bytes_are_refused(spec, version, kind, data):
    cls = getattr(spec, kind)
    encoded = data.draw(_struct(cls, version)).encode(version)
    cut = data.draw(st.integers(0, max(len(encoded) - 1, 0)))
    if cut < len(encoded):
        with pytest.raises(m.DecodeError):
            cls.decode(encoded[:cut], version)
    with pytest.raises(m.DecodeError):
        cls.decode(encoded + b"\x00", version)


def test_a_hostile_array_count_is_refused_without_allocating():
    body = struct.pack(">hhii", -1, 1, 30000, 0x7FFFFFFF)  # null transactional id, acks, timeout, topic count
    with pytest.raises(m.DecodeError, match="elements"):
        m.ProduceRequest.decode(body, 3)


def test_unknown_tagged_fields_are_skipped():
    message = m.ApiVersionsRequest(client_software_name="x", client_software_version="1")
    encoded = bytearray(message.encode(3))
    assert encoded[-1] == 0  # empty tagged section
    encoded[-1:] = bytes([1, 42, 3]) + b"abc"  # one unknown tag (42) of 3 bytes
    assert m.ApiVersionsRequest.decode(bytes(encoded), 3) == message


def test_request_frames_round_trip_with_headers_v1_and_v2():
    body = m.MetadataRequest(topics=[m.MetadataRequest.MetadataRequestTopic(name="t")])
    for version in (1, 9):
        header = RequestHeader(3, version, 77, "me")
        frame = encode_request(header, body)
        assert struct.unpack_from(">i", frame)[0] == len(frame) - 4
        got_header, got_body = decode_request(frame[4:])
        assert got_header == header and got_body == body


def test_an_unserved_version_is_named_from_the_fixed_header_alone():
    frame = struct.pack(">hhi", 18, 99, 5) + b"\xff\xfe garbage"
    with pytest.raises(UnsupportedRequestError) as info:
        decode_request(frame)
    assert info.value.header.correlation_id == 5 and info.value.header.api_version == 99


def test_responses_use_header_v1_when_flexible_but_api_versions_always_v0():
    response = m.MetadataResponse(brokers=[m.MetadataResponse.MetadataResponseBroker(node_id=1, host="h", port=9)])
    header = RequestHeader(3, 9, 12, None)
    frame = encode_response(header, response)
    assert frame[8] == 0  # header v1's empty tagged section follows the correlation id
    assert decode_response(frame[4:], header) == response
    versions = m.ApiVersionsResponse(error_code=35)
    frame = encode_response(RequestHeader(18, 3, 13, None), versions, version=0)
    assert decode_response(frame[4:], RequestHeader(18, 3, 13, None)).error_code == 35


class _FileSlice:
    length = 5


def test_encode_parts_leaves_file_slices_in_place():
    piece = _FileSlice()
    response = m.FetchResponse(
        responses=[
            m.FetchResponse.FetchableTopicResponse(
                topic="t", partitions=[m.FetchResponse.PartitionData(partition_index=0, records=piece)]
            )
        ]
    )
    for version in (11, 12):  # records end the v11 body; v12 (flexible) adds tagged sections after them
        parts = response_parts(RequestHeader(1, version, 1, None), response)
        assert parts[1] is piece and len(parts) == (2 if version == 11 else 3)
        tail = sum(len(p) for p in parts[2:])
        assert struct.unpack_from(">i", parts[0])[0] == len(parts[0]) - 4 + 5 + tail
    with pytest.raises(TypeError):
        response.encode(11)
