"""4-byte length framing of ZooKeeper client traffic, sans I/O.

Feed bytes in any chunking, get complete frame payloads out. A negative or oversized
length means the peer is broken or hostile: `FrameError` is raised and the caller must
close the connection (there is no way to resynchronise a length-prefixed stream). This
module never reads a socket and never allocates more than `max_size` for one frame.
"""

from __future__ import annotations

from coord.protocol.jute import MarshallingError

DEFAULT_MAX_BUFFER = 0xFFFFF  # jute.maxbuffer: 1,048,575 bytes of payload


class FrameError(MarshallingError):
    """A frame length that is negative or above the configured maximum."""


def frame(payload: bytes) -> bytes:
    """`payload` with its 4-byte big-endian length in front."""
    return len(payload).to_bytes(4, "big") + payload


class FrameReader:
    """Reassembles length-prefixed frames from a byte stream."""

    __slots__ = ("max_size", "_buf")

    def __init__(self, max_size: int = DEFAULT_MAX_BUFFER) -> None:
        self.max_size = max_size
        self._buf = bytearray()

    def pending(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        """Add `data`; return every frame payload it completed, in order."""
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        pos, end = 0, len(buf)
        while end - pos >= 4:
            n = int.from_bytes(buf[pos : pos + 4], "big", signed=True)
            if n < 0 or n > self.max_size:
                raise FrameError(
                    f"frame length {n} is outside 0..{self.max_size} "
                    "(raise jute.maxbuffer / max_buffer if this is a real packet)"
                )
            if end - pos - 4 < n:
                break
            frames.append(bytes(buf[pos + 4 : pos + 4 + n]))
            pos += 4 + n
        if pos:
            del buf[:pos]
        return frames
