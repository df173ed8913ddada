"""Kafka's request and response frames: length prefix, header, typed body.

A request is `int32 size`, then the header (v1: api_key int16, api_version int16,
correlation_id int32, client_id nullable int16 string; v2, for flexible versions, adds a tagged
field section; v0, used only by ControlledShutdown v0, has no client_id), then the body. A
response is `int32 size`, the header (v0: correlation_id; v1, flexible versions: plus tagged
fields) and the body; an ApiVersions response always uses header v0, so a client can read it
before it knows which versions the broker speaks.

The fixed part of a request header (8 bytes) is read first and on its own: a broker must be able
to answer an ApiVersions request of a version it does not know, and to name the request it cannot
serve, without parsing anything else. This module is sans-I/O and must never interpret a body's
fields (that is the handlers' and the client's business).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any, NamedTuple

from client.protocol import types as t
from client.protocol.api import SUPPORTED_VERSIONS
from client.protocol.frames import LENGTH, FrameError
from client.protocol.messages import API_BY_KEY, DecodeError

_FIXED_HEADER = struct.Struct(">hhi")
API_VERSIONS_KEY = 18
_CONTROLLED_SHUTDOWN_KEY = 7


class RequestHeader(NamedTuple):
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None


class UnsupportedRequestError(FrameError):
    """A request for an API or version this side does not serve; `header` has what was read."""

    def __init__(self, header: RequestHeader, message: str) -> None:
        super().__init__(message)
        self.header = header


class UndecodableRequestError(FrameError):
    """A frame too short to hold a request header, or a body that does not decode."""

    def __init__(self, message: str, header: RequestHeader | None = None) -> None:
        super().__init__(message)
        self.header = header


def _request_header_version(api_key: int, api_version: int) -> int:
    if api_key == _CONTROLLED_SHUTDOWN_KEY and api_version == 0:
        return 0
    return 2 if API_BY_KEY[api_key].flexible(api_version) else 1


def _response_header_version(api_key: int, api_version: int) -> int:
    if api_key == API_VERSIONS_KEY:
        return 0
    return 1 if API_BY_KEY[api_key].flexible(api_version) else 0


def read_fixed_header(frame: bytes | memoryview) -> RequestHeader:
    """api_key, api_version and correlation_id (client_id None): all a refusal needs."""
    if len(frame) < _FIXED_HEADER.size:
        raise UndecodableRequestError(f"a request of {len(frame)} bytes cannot hold a request header")
    api_key, api_version, correlation_id = _FIXED_HEADER.unpack_from(frame, 0)
    return RequestHeader(api_key, api_version, correlation_id, None)


def encode_request(header: RequestHeader, body: Any) -> bytes:
    """The whole request frame, length prefix included."""
    out = bytearray(LENGTH.size)
    out += _FIXED_HEADER.pack(header.api_key, header.api_version, header.correlation_id)
    version = _request_header_version(header.api_key, header.api_version)
    if version >= 1:
        t.write_string(out, header.client_id)
    if version >= 2:
        out.append(0)  # no tagged fields
    out += body.encode(header.api_version)
    LENGTH.pack_into(out, 0, len(out) - LENGTH.size)
    return bytes(out)


def decode_request(frame: bytes, served: Mapping[int, tuple[int, int]] | None = None) -> tuple[RequestHeader, Any]:
    """Header and typed body of a request frame (the payload after the length prefix).

    Raises UnsupportedRequestError for an (api, version) outside `served` (default: what a pybroker
    broker serves) and UndecodableRequestError when the header or body does not parse.
    """
    served = SUPPORTED_VERSIONS if served is None else served
    fixed = read_fixed_header(frame)
    key, version = fixed.api_key, fixed.api_version
    spec = API_BY_KEY.get(key)
    low_high = served.get(key)
    if spec is None or low_high is None:
        raise UnsupportedRequestError(fixed, f"api key {key} is not served by this broker")
    if not low_high[0] <= version <= low_high[1]:
        raise UnsupportedRequestError(
            fixed, f"{spec.name} version {version} is not served (versions {low_high[0]}-{low_high[1]} are)"
        )
    pos = _FIXED_HEADER.size
    client_id = None
    header_version = _request_header_version(key, version)
    try:
        if header_version >= 1:
            client_id, pos = t.read_string(frame, pos)
        if header_version >= 2:
            pos = t.skip_tagged(frame, pos)
    except (struct.error, DecodeError, UnicodeDecodeError) as exc:
        raise UndecodableRequestError(f"the {spec.name} request header does not parse: {exc}", fixed) from None
    header = RequestHeader(key, version, fixed.correlation_id, client_id)
    try:
        # Bytes after the body are ignored, as Kafka's broker ignores them: librdkafka 2.x sends
        # three after its Metadata v12 request.
        body, _ = spec.request.decode_prefix(memoryview(frame), version, pos)
    except DecodeError as exc:
        raise UndecodableRequestError(
            f"the {spec.name} v{version} request body does not parse: {exc}", header
        ) from None
    return header, body


def _response_head(header: RequestHeader) -> bytearray:
    out = bytearray(LENGTH.size)
    out += LENGTH.pack(header.correlation_id)
    if _response_header_version(header.api_key, header.api_version) >= 1:
        out.append(0)
    return out


def response_parts(header: RequestHeader, body: Any, version: int | None = None) -> list[Any]:
    """The whole response frame as pieces: bytes, and file slices (objects with `length`) to sendfile.

    `version` overrides the body's version (an ApiVersions refusal is always written as v0)."""
    head = _response_head(header)
    parts = body.encode_parts(header.api_version if version is None else version)
    size = len(head) - LENGTH.size + sum(len(p) if isinstance(p, (bytes, bytearray)) else p.length for p in parts)
    LENGTH.pack_into(head, 0, size)
    first = parts[0] if parts and isinstance(parts[0], (bytes, bytearray)) else b""
    rest = parts[1:] if first else parts
    return [bytes(head) + first, *rest]


def encode_response(header: RequestHeader, body: Any, version: int | None = None) -> bytes:
    parts = response_parts(header, body, version)
    if len(parts) != 1:
        raise TypeError("this response holds file slices: use response_parts()")
    frame: bytes = parts[0]
    return frame


def response_correlation_id(frame: bytes | memoryview) -> int:
    if len(frame) < 4:
        raise DecodeError(f"a response of {len(frame)} bytes cannot hold a correlation id")
    correlation_id: int = LENGTH.unpack_from(frame, 0)[0]
    return correlation_id


def decode_response(frame: bytes, header: RequestHeader) -> Any:
    """The typed body of a response frame (payload after the length prefix) to `header`'s request."""
    spec = API_BY_KEY[header.api_key]
    pos = 4
    version = header.api_version
    try:
        if _response_header_version(header.api_key, version) >= 1:
            pos = t.skip_tagged(frame, pos)
        if header.api_key == API_VERSIONS_KEY:
            return _decode_api_versions(frame, pos, version)
        return spec.response.decode(memoryview(frame)[pos:], version)
    except (struct.error, IndexError) as exc:
        raise DecodeError(f"the {spec.name} v{version} response does not parse: {exc}") from None


def _decode_api_versions(frame: bytes, pos: int, version: int) -> Any:
    """A broker that does not serve our ApiVersions version answers error 35 in the v0 layout."""
    cls = API_BY_KEY[API_VERSIONS_KEY].response
    (error_code,) = struct.unpack_from(">h", frame, pos)
    if error_code == 35 and version > 0:
        return cls.decode(memoryview(frame)[pos:], 0)
    return cls.decode(memoryview(frame)[pos:], version)
