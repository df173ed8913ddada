"""Error codes of the broker protocol and one exception class per code.

Codes are Kafka's numbers wherever Kafka has the same error, so documentation and
habits carry over. Every refusal on the wire is a pair (error code, message): the code
tells a program what to do (retry, refresh metadata, give up), the message tells a
person why. `BrokerError.for_code` turns such a pair back into the matching exception.
This module must never decide policy (how often to retry, when to refresh): it only
says whether an error is worth retrying at all.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    UNKNOWN_SERVER_ERROR = -1
    NONE = 0
    OFFSET_OUT_OF_RANGE = 1
    CORRUPT_MESSAGE = 2
    UNKNOWN_TOPIC_OR_PARTITION = 3
    INVALID_FETCH_SIZE = 4
    LEADER_NOT_AVAILABLE = 5
    NOT_LEADER_OR_FOLLOWER = 6
    REQUEST_TIMED_OUT = 7
    BROKER_NOT_AVAILABLE = 8
    REPLICA_NOT_AVAILABLE = 9
    MESSAGE_TOO_LARGE = 10
    STALE_CONTROLLER_EPOCH = 11
    OFFSET_METADATA_TOO_LARGE = 12
    NETWORK_EXCEPTION = 13
    COORDINATOR_LOAD_IN_PROGRESS = 14
    COORDINATOR_NOT_AVAILABLE = 15
    NOT_COORDINATOR = 16
    INVALID_TOPIC_EXCEPTION = 17
    RECORD_LIST_TOO_LARGE = 18
    NOT_ENOUGH_REPLICAS = 19
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20
    INVALID_REQUIRED_ACKS = 21
    ILLEGAL_GENERATION = 22
    INCONSISTENT_GROUP_PROTOCOL = 23
    INVALID_GROUP_ID = 24
    UNKNOWN_MEMBER_ID = 25
    INVALID_SESSION_TIMEOUT = 26
    REBALANCE_IN_PROGRESS = 27
    TOPIC_AUTHORIZATION_FAILED = 29
    GROUP_AUTHORIZATION_FAILED = 30
    CLUSTER_AUTHORIZATION_FAILED = 31
    INVALID_TIMESTAMP = 32
    UNSUPPORTED_SASL_MECHANISM = 33
    ILLEGAL_SASL_STATE = 34
    UNSUPPORTED_VERSION = 35
    TOPIC_ALREADY_EXISTS = 36
    INVALID_PARTITIONS = 37
    INVALID_REPLICATION_FACTOR = 38
    INVALID_REPLICA_ASSIGNMENT = 39
    INVALID_CONFIG = 40
    NOT_CONTROLLER = 41
    INVALID_REQUEST = 42
    OUT_OF_ORDER_SEQUENCE_NUMBER = 45
    DUPLICATE_SEQUENCE_NUMBER = 46
    INVALID_PRODUCER_EPOCH = 47
    SECURITY_DISABLED = 54
    KAFKA_STORAGE_ERROR = 56
    SASL_AUTHENTICATION_FAILED = 58
    UNKNOWN_PRODUCER_ID = 59
    NON_EMPTY_GROUP = 68
    GROUP_ID_NOT_FOUND = 69
    FETCH_SESSION_ID_NOT_FOUND = 70
    TOPIC_DELETION_DISABLED = 73
    FENCED_LEADER_EPOCH = 74
    UNKNOWN_LEADER_EPOCH = 75
    STALE_BROKER_EPOCH = 77
    OFFSET_NOT_AVAILABLE = 78
    MEMBER_ID_REQUIRED = 79
    PREFERRED_LEADER_NOT_AVAILABLE = 80
    FENCED_INSTANCE_ID = 82
    ELIGIBLE_LEADERS_NOT_AVAILABLE = 83
    ELECTION_NOT_NEEDED = 84
    GROUP_SUBSCRIBED_TO_TOPIC = 86
    INVALID_RECORD = 87
    RESOURCE_NOT_FOUND = 91
    DUPLICATE_RESOURCE = 92
    UNACCEPTABLE_CREDENTIAL = 93
    UNKNOWN_TOPIC_ID = 100
    INCONSISTENT_CLUSTER_ID = 104


# Errors after which the same request may succeed if sent again (possibly to another
# broker after a metadata refresh). Everything else is permanent for that request.
RETRIABLE: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.CORRUPT_MESSAGE,
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode.LEADER_NOT_AVAILABLE,
        ErrorCode.NOT_LEADER_OR_FOLLOWER,
        ErrorCode.REQUEST_TIMED_OUT,
        ErrorCode.REPLICA_NOT_AVAILABLE,
        ErrorCode.NETWORK_EXCEPTION,
        ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode.COORDINATOR_NOT_AVAILABLE,
        ErrorCode.NOT_COORDINATOR,
        ErrorCode.NOT_ENOUGH_REPLICAS,
        ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        ErrorCode.NOT_CONTROLLER,
        ErrorCode.KAFKA_STORAGE_ERROR,
        ErrorCode.FENCED_LEADER_EPOCH,
        ErrorCode.UNKNOWN_LEADER_EPOCH,
        ErrorCode.OFFSET_NOT_AVAILABLE,
    }
)

# Retriable errors that mean the client's metadata is out of date (the partition's leader
# moved, or the broker does not know the partition yet): refresh before retrying.
# Kafka's InvalidMetadataException family.
INVALID_METADATA: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode.LEADER_NOT_AVAILABLE,
        ErrorCode.NOT_LEADER_OR_FOLLOWER,
        ErrorCode.FENCED_LEADER_EPOCH,
        ErrorCode.UNKNOWN_LEADER_EPOCH,
        ErrorCode.KAFKA_STORAGE_ERROR,
    }
)


class BrokerError(Exception):
    """A refusal from a broker: an error code, whether a retry can help, and a message."""

    code: ErrorCode = ErrorCode.UNKNOWN_SERVER_ERROR

    def __init__(self, message: str = "") -> None:
        super().__init__(f"{self.code.name} ({int(self.code)}): {message}" if message else self.code.name)
        self.message = message

    @property
    def retriable(self) -> bool:
        return self.code in RETRIABLE

    @staticmethod
    def for_code(code: int, message: str | None = None) -> BrokerError:
        """The exception matching a wire error code (UnknownServerError if unknown)."""
        try:
            cls = _BY_CODE[ErrorCode(code)]
        except (ValueError, KeyError):
            return UnknownServerError(f"error code {code}: {message or ''}".rstrip(": "))
        return cls(message or "")


def _class_name(code: ErrorCode) -> str:
    name = "".join(part.capitalize() for part in code.name.lower().split("_"))
    return name if name.endswith(("Error", "Exception")) else name + "Error"


# One subclass per code, named after it: UNKNOWN_TOPIC_OR_PARTITION ->
# UnknownTopicOrPartitionError. Built from the enum so the two can never drift apart.
_BY_CODE: dict[ErrorCode, type[BrokerError]] = {}
for _code in ErrorCode:
    if _code is ErrorCode.NONE:
        continue
    _cls = type(
        _class_name(_code),
        (BrokerError,),
        {"code": _code, "__module__": __name__, "__doc__": f"Broker error {_code.name} ({int(_code)})."},
    )
    _BY_CODE[_code] = _cls
    globals()[_cls.__name__] = _cls
del _code, _cls

# Names for type checkers and readers; each is the class generated above.
UnknownServerError: type[BrokerError] = _BY_CODE[ErrorCode.UNKNOWN_SERVER_ERROR]
OffsetOutOfRangeError: type[BrokerError] = _BY_CODE[ErrorCode.OFFSET_OUT_OF_RANGE]
CorruptMessageError: type[BrokerError] = _BY_CODE[ErrorCode.CORRUPT_MESSAGE]
UnknownTopicOrPartitionError: type[BrokerError] = _BY_CODE[ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
LeaderNotAvailableError: type[BrokerError] = _BY_CODE[ErrorCode.LEADER_NOT_AVAILABLE]
NotLeaderOrFollowerError: type[BrokerError] = _BY_CODE[ErrorCode.NOT_LEADER_OR_FOLLOWER]
RequestTimedOutError: type[BrokerError] = _BY_CODE[ErrorCode.REQUEST_TIMED_OUT]
MessageTooLargeError: type[BrokerError] = _BY_CODE[ErrorCode.MESSAGE_TOO_LARGE]
UnsupportedVersionError: type[BrokerError] = _BY_CODE[ErrorCode.UNSUPPORTED_VERSION]
TopicAlreadyExistsError: type[BrokerError] = _BY_CODE[ErrorCode.TOPIC_ALREADY_EXISTS]
InvalidPartitionsError: type[BrokerError] = _BY_CODE[ErrorCode.INVALID_PARTITIONS]
InvalidReplicationFactorError: type[BrokerError] = _BY_CODE[ErrorCode.INVALID_REPLICATION_FACTOR]
InvalidRequestError: type[BrokerError] = _BY_CODE[ErrorCode.INVALID_REQUEST]
InvalidTopicError: type[BrokerError] = _BY_CODE[ErrorCode.INVALID_TOPIC_EXCEPTION]
InvalidConfigError: type[BrokerError] = _BY_CODE[ErrorCode.INVALID_CONFIG]


def raise_for(code: int, message: str | None = None) -> None:
    """Raise the matching BrokerError unless `code` is NONE."""
    if code != ErrorCode.NONE:
        raise BrokerError.for_code(code, message)
