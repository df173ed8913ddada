"""The broker's API keys and the versions of each that a pybroker broker serves.

Keys and versions are Apache Kafka's (the message layouts live in `client.protocol.schema`).
The served ranges are chosen for the clients we test with (librdkafka, kafka-python,
aiokafka, our own): each reaches a version it knows, and none is offered a version whose
features we do not have (topic ids in Fetch 13+ and Metadata 13, KIP-848 groups, batched
OffsetFetch 8+). Produce is advertised from v0, as Kafka 4.0 still does, because older
librdkafka turns compression off when Produce v0 is missing (KAFKA-18659); versions 0-2 (the
pre-v2 message formats) are refused with UNSUPPORTED_VERSION. This module must never hold I/O
or per-API logic.
"""

from __future__ import annotations

from enum import IntEnum


class ApiKey(IntEnum):
    PRODUCE = 0
    FETCH = 1
    LIST_OFFSETS = 2
    METADATA = 3
    # Controller -> broker requests (and ControlledShutdown, broker -> controller).
    LEADER_AND_ISR = 4
    STOP_REPLICA = 5
    UPDATE_METADATA = 6
    CONTROLLED_SHUTDOWN = 7
    OFFSET_COMMIT = 8
    OFFSET_FETCH = 9
    FIND_COORDINATOR = 10
    JOIN_GROUP = 11
    HEARTBEAT = 12
    LEAVE_GROUP = 13
    SYNC_GROUP = 14
    DESCRIBE_GROUPS = 15
    LIST_GROUPS = 16
    SASL_HANDSHAKE = 17
    API_VERSIONS = 18
    CREATE_TOPICS = 19
    DELETE_TOPICS = 20
    DELETE_RECORDS = 21
    INIT_PRODUCER_ID = 22
    # Follower -> leader: where does my latest epoch end in your log (KIP-101/279)?
    OFFSETS_FOR_LEADER_EPOCH = 23
    DESCRIBE_ACLS = 29
    CREATE_ACLS = 30
    DELETE_ACLS = 31
    DESCRIBE_CONFIGS = 32
    ALTER_CONFIGS = 33
    SASL_AUTHENTICATE = 36
    CREATE_PARTITIONS = 37
    DELETE_GROUPS = 42
    ELECT_LEADERS = 43
    INCREMENTAL_ALTER_CONFIGS = 44
    OFFSET_DELETE = 47
    DESCRIBE_USER_SCRAM_CREDENTIALS = 50
    ALTER_USER_SCRAM_CREDENTIALS = 51


# (min_version, max_version) of every API a broker built from this tree serves; ApiVersions
# answers with exactly this table and clients pick the highest version both sides speak.
# Keyed by ApiKey members, typed by int: a request's raw key looks itself up.
SUPPORTED_VERSIONS: dict[int, tuple[int, int]] = {
    ApiKey.PRODUCE: (0, 9),
    ApiKey.FETCH: (4, 12),
    ApiKey.LIST_OFFSETS: (1, 7),
    ApiKey.METADATA: (0, 12),
    ApiKey.LEADER_AND_ISR: (0, 6),
    ApiKey.STOP_REPLICA: (0, 3),
    ApiKey.UPDATE_METADATA: (0, 7),
    ApiKey.CONTROLLED_SHUTDOWN: (0, 3),
    ApiKey.OFFSET_COMMIT: (2, 8),
    ApiKey.OFFSET_FETCH: (1, 7),
    ApiKey.FIND_COORDINATOR: (0, 3),
    ApiKey.JOIN_GROUP: (0, 7),
    ApiKey.HEARTBEAT: (0, 4),
    ApiKey.LEAVE_GROUP: (0, 4),
    ApiKey.SYNC_GROUP: (0, 5),
    ApiKey.DESCRIBE_GROUPS: (0, 5),
    ApiKey.LIST_GROUPS: (0, 5),
    ApiKey.SASL_HANDSHAKE: (0, 1),  # v0: the tokens follow as bare frames (pre-KIP-152)
    ApiKey.API_VERSIONS: (0, 3),
    ApiKey.CREATE_TOPICS: (0, 5),
    ApiKey.DELETE_TOPICS: (0, 5),
    ApiKey.DELETE_RECORDS: (0, 2),
    ApiKey.INIT_PRODUCER_ID: (0, 4),
    ApiKey.OFFSETS_FOR_LEADER_EPOCH: (0, 4),
    ApiKey.DESCRIBE_ACLS: (0, 3),
    ApiKey.CREATE_ACLS: (0, 3),
    ApiKey.DELETE_ACLS: (0, 3),
    ApiKey.DESCRIBE_CONFIGS: (0, 4),
    ApiKey.SASL_AUTHENTICATE: (0, 2),
    ApiKey.CREATE_PARTITIONS: (0, 3),
    ApiKey.ALTER_CONFIGS: (0, 2),
    ApiKey.DELETE_GROUPS: (0, 2),
    ApiKey.ELECT_LEADERS: (0, 2),
    ApiKey.INCREMENTAL_ALTER_CONFIGS: (0, 1),
    ApiKey.OFFSET_DELETE: (0, 0),
    ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS: (0, 0),
    ApiKey.ALTER_USER_SCRAM_CREDENTIALS: (0, 0),
}

# Produce versions below this carry the pre-v2 message formats, which a pybroker log never holds.
MIN_PRODUCE_RECORD_VERSION = 3

# Produce acks: 0 = no response at all, 1 = after the leader's append, -1 = "all",
# after every in-sync replica has the batch.
ACKS_NONE = 0
ACKS_LEADER = 1
ACKS_ALL = -1

# ListOffsets timestamps with a special meaning (Kafka's values).
LATEST_TIMESTAMP = -1  # the high watermark: the offset the next record will get
EARLIEST_TIMESTAMP = -2  # the log start offset

# Fetch replica_id of an ordinary consumer (followers send their broker id).
CONSUMER_REPLICA_ID = -1

# Produce response log_append_time when the topic uses CreateTime timestamps.
NO_TIMESTAMP = -1
