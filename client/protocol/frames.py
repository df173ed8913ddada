"""Wire framing of the broker protocol: length prefixes and the msgpack envelopes.

Every message on a broker connection is a frame: a 4-byte big-endian signed length,
then that many bytes. A request frame holds one msgpack array
`[api_key, api_version, correlation_id, client_id, body]`. A response frame holds one
msgpack array `[correlation_id, body]`, optionally followed by raw bytes (the "tail")
whose layout the body describes; Fetch uses the tail to carry record batches exactly as
they lie in the segment file, so the broker can `sendfile` them.

This module is sans-I/O: it turns bytes into frames and envelopes and back, and never
touches a socket, a clock or a record inside a batch. It must never accept a negative
or oversized length: a peer that sends one gets a typed `FrameError` and the caller
closes that connection.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

import msgpack

LENGTH = struct.Struct(">i")

# Kafka's socket.request.max.bytes: the largest request frame a broker accepts.
DEFAULT_MAX_REQUEST_BYTES = 100 * 1024 * 1024
# The largest response frame a client accepts (Fetch responses are bounded by the
# request's max_bytes, so this only catches a confused or hostile peer).
DEFAULT_MAX_RESPONSE_BYTES = 100 * 1024 * 1024


class FrameError(Exception):
    """The byte stream is not a valid sequence of frames; close the connection."""


class FrameTooLargeError(FrameError):
    """A length prefix is above the configured maximum."""


class InvalidFrameError(FrameError):
    """A negative length, or a frame whose envelope is not the documented shape."""


class Request(NamedTuple):
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body: Any


class Response(NamedTuple):
    correlation_id: int
    body: Any
    tail: memoryview


class FrameDecoder:
    """Cuts a byte stream into frame payloads; feed bytes in, take frames out.

    Keeps one growing buffer and a read position, so a frame split across many reads
    and many frames in one read both cost no more than the bytes themselves.
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_REQUEST_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> None:
        if self._pos and self._pos == len(self._buf):
            self._buf.clear()
            self._pos = 0
        self._buf += data

    def next_frame(self) -> bytes | None:
        """The next complete frame payload, or None until more bytes arrive."""
        avail = len(self._buf) - self._pos
        if avail < 4:
            self._compact()
            return None
        (size,) = LENGTH.unpack_from(self._buf, self._pos)
        if size < 0:
            raise InvalidFrameError(f"negative frame length {size}")
        if size > self.max_frame_bytes:
            raise FrameTooLargeError(
                f"frame of {size} bytes is larger than the limit of {self.max_frame_bytes} bytes"
            )
        if avail < 4 + size:
            self._compact()
            return None
        start = self._pos + 4
        self._pos = start + size
        with memoryview(self._buf) as view:  # one copy, and the view is gone before the next feed
            return bytes(view[start:self._pos])

    def frames(self) -> list[bytes]:
        """Every complete frame buffered so far."""
        out = []
        while (frame := self.next_frame()) is not None:
            out.append(frame)
        return out

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a frame (a truncated frame's part)."""
        return len(self._buf) - self._pos

    def _compact(self) -> None:
        # Drop consumed bytes only when they dominate, so compaction stays amortised O(1).
        if self._pos > 65536 and self._pos * 2 > len(self._buf):
            del self._buf[:self._pos]
            self._pos = 0


def _pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def _unpack_one(frame: bytes | memoryview) -> tuple[Any, int]:
    """Unpack the first msgpack object of `frame`; return it and where it ended."""
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=max(len(frame), 1))
    unpacker.feed(frame)
    try:
        obj = unpacker.unpack()
    except msgpack.OutOfData:
        raise InvalidFrameError("frame ends inside its msgpack envelope") from None
    except (ValueError, msgpack.UnpackException, TypeError) as exc:
        raise InvalidFrameError(f"frame envelope is not valid msgpack: {exc}") from None
    return obj, unpacker.tell()


def encode_request(api_key: int, api_version: int, correlation_id: int,
                   client_id: str | None, body: Any) -> bytes:
    """A complete request frame, length prefix included."""
    payload = _pack([int(api_key), api_version, correlation_id, client_id, body])
    return LENGTH.pack(len(payload)) + payload


def decode_request(frame: bytes) -> Request:
    """Parse a request frame payload (without its length prefix)."""
    obj, end = _unpack_one(frame)
    if end != len(frame):
        raise InvalidFrameError(f"{len(frame) - end} stray bytes after the request envelope")
    if not isinstance(obj, list) or len(obj) != 5:
        raise InvalidFrameError("a request must be [api_key, api_version, correlation_id, client_id, body]")
    api_key, api_version, correlation_id, client_id, body = obj
    if not all(type(v) is int for v in (api_key, api_version, correlation_id)):
        raise InvalidFrameError("api_key, api_version and correlation_id must be integers")
    if client_id is not None and not isinstance(client_id, str):
        raise InvalidFrameError("client_id must be a string or nil")
    return Request(api_key, api_version, correlation_id, client_id, body)


def response_head(correlation_id: int, body: Any, tail_size: int = 0) -> bytes:
    """Length prefix + response envelope; `tail_size` raw bytes must follow on the wire."""
    payload = _pack([correlation_id, body])
    return LENGTH.pack(len(payload) + tail_size) + payload


def encode_response(correlation_id: int, body: Any, tail: bytes = b"") -> bytes:
    """A complete response frame, length prefix included."""
    return response_head(correlation_id, body, len(tail)) + tail


def decode_response(frame: bytes) -> Response:
    """Parse a response frame payload: envelope, then whatever raw tail follows it."""
    obj, end = _unpack_one(frame)
    if not isinstance(obj, list) or len(obj) != 2 or type(obj[0]) is not int:
        raise InvalidFrameError("a response must be [correlation_id, body]")
    return Response(obj[0], obj[1], memoryview(frame)[end:])
