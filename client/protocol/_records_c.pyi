"""Types of the compiled twin of client.protocol.records (built from _records_c.c where a compiler exists)."""

from collections.abc import Sequence
from typing import Any

def init(invalid_record_error: type[Exception], record: type[tuple[Any, ...]], /) -> None: ...
def encode_records(
    records: Sequence[tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes | None]] | None, int]],
    base_timestamp: int,
    offset_deltas: Sequence[int] | None = None,
) -> bytes: ...
def decode_records(
    data: bytes | memoryview,
    count: int,
    base_offset: int,
    base_timestamp: int,
    cls: type[tuple[Any, ...]] = ...,
    head: tuple[Any, ...] = (),
) -> list[Any]: ...
def check_records(data: bytes | memoryview, count: int, keys_required: bool) -> int | None: ...
