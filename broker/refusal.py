"""How the broker refuses a request: `RequestRefusedError`, the base of its typed
refusals (a partition it does not serve, a group it does not coordinate, an idempotent
batch out of sequence...), raised; and `ErrorReply`, an (error code, message) pair that a
check returns instead when refusing is an answer, not a failure.

Both carry the wire error code the client acts on and a message a person can act on;
handlers turn one into an error entry. This module must never hold request logic.
"""

from __future__ import annotations

from client.protocol.errors import ErrorCode

ErrorReply = tuple[ErrorCode, str]


class RequestRefusedError(Exception):
    """A request this broker will not carry out now; `code` says what the client does next."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
