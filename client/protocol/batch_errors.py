"""Why a record batch is refused, as exception types carrying Kafka's error code.

Kafka answers a produce with CORRUPT_MESSAGE when the bytes are damaged (a crc that does
not match, a length that runs past the end, an unreadable codec) and with INVALID_RECORD
when an intact batch breaks the rules for its records (its header lies about how many
there are, offset deltas out of order, a keyless record on a compacted topic). Both
are `CorruptBatchError`s here, so code that only needs "never store these bytes"
catches one type; `code` says which answer the client gets. This module must never
grow logic: only the types.
"""

from __future__ import annotations

from client.protocol.errors import ErrorCode


class CorruptBatchError(ValueError):
    """The bytes are not a whole, intact batch: never store or serve them."""

    code = ErrorCode.CORRUPT_MESSAGE


class UnsupportedCompressionError(CorruptBatchError):
    """The attributes name a codec this build cannot read or write."""


class InvalidRecordError(CorruptBatchError):
    """An intact batch whose records break Kafka's rules (its log validator's refusals)."""

    code = ErrorCode.INVALID_RECORD
