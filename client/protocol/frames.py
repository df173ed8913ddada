"""Length-prefixed framing, shared by every Kafka-protocol connection (broker and client).

Every message on a broker connection is a frame: a 4-byte big-endian signed length, then
that many bytes (a request or response header and body, `kafka_frames`). This module cuts
a byte stream into frames and never looks inside one.

This module is sans-I/O: it never touches a socket or a clock. It must never accept a
negative or oversized length: a peer that sends one gets a typed `FrameError` and the
caller closes that connection.
"""

from __future__ import annotations

import struct

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
    """A negative frame length."""


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
            raise FrameTooLargeError(f"frame of {size} bytes is larger than the limit of {self.max_frame_bytes} bytes")
        if avail < 4 + size:
            self._compact()
            return None
        start = self._pos + 4
        self._pos = start + size
        with memoryview(self._buf) as view:  # one copy, and the view is gone before the next feed
            return bytes(view[start : self._pos])

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
            del self._buf[: self._pos]
            self._pos = 0
