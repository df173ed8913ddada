"""Errors a client raises on its own, beside the broker's error codes it re-exports.

Broker refusals arrive as `client.protocol.errors.BrokerError` subclasses (one per wire
code, e.g. UnknownTopicOrPartitionError); this module adds the failures that happen on
our side of the socket. Every message says what to check or change. It must never
swallow or rename a broker error: callers match on the broker's classes directly.
"""

from __future__ import annotations

from client.protocol.errors import *  # noqa: F403  (one import for users: client.errors.X)
from client.protocol.errors import BrokerError, ErrorCode  # noqa: F401


class ClientError(Exception):
    """Base class of errors raised by the client itself (not by a broker)."""


class BrokerConnectionError(ClientError):
    """A broker could not be reached, or the connection dropped with requests in flight."""


class NoBrokersAvailableError(BrokerConnectionError):
    """None of the bootstrap servers answered; check `bootstrap_servers` and that a broker runs."""


class ClientTimeoutError(ClientError, TimeoutError):
    """A request or a delivery did not finish within its timeout."""


class RecordTooLargeError(ClientError):
    """One record is larger than `max_request_size`; raise that setting or split the record."""


class ProducerClosedError(ClientError):
    """`send` after `close()`: create a new producer."""


class ConsumerStoppedError(ClientError):
    """The consumer was closed while a poll or iteration was waiting."""


class IllegalStateError(ClientError):
    """The call does not fit the client's current state (e.g. seek on an unassigned partition)."""


class CommitFailedError(ClientError):
    """The group rebalanced (or dropped this member) before the commit landed: the partitions
    may belong to another member now. Poll again to rejoin; records since the last
    successful commit may be delivered again."""


class NoOffsetForPartitionError(ClientError):
    """No position and `auto_offset_reset='none'`: seek explicitly before polling."""


class AuthenticationError(BrokerConnectionError):
    """TLS or SASL refused this client (wrong password, unknown user, untrusted certificate,
    a mechanism the broker does not enable): fix the security settings, retrying will not help."""
