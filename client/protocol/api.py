"""The broker's API keys, the versions this code speaks, and the shape of each body.

Numbers follow Kafka's so a Kafka user can read a packet capture; the bodies are our
own: msgpack maps with short string keys (unknown keys are ignored, so fields can be
added without a version bump). docs/protocol.md describes every body field by field;
this module holds the facts code needs: keys, supported version ranges and the few
sentinel values. It must never hold I/O or per-API logic.
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
    # Reserved for consumer groups.
    OFFSET_COMMIT = 8
    OFFSET_FETCH = 9
    FIND_COORDINATOR = 10
    JOIN_GROUP = 11
    HEARTBEAT = 12
    LEAVE_GROUP = 13
    SYNC_GROUP = 14
    DESCRIBE_GROUPS = 15
    LIST_GROUPS = 16
    API_VERSIONS = 18
    CREATE_TOPICS = 19
    DELETE_TOPICS = 20
    # Reserved for the idempotent producer.
    INIT_PRODUCER_ID = 22
    # Follower -> leader: where does my latest epoch end in your log (KIP-101/279)?
    OFFSETS_FOR_LEADER_EPOCH = 23


# (min_version, max_version) of every API a broker built from this tree serves.
# A broker answers ApiVersions with exactly this table; clients pick the highest
# version both sides speak. Reserved keys appear here once a broker serves them.
SUPPORTED_VERSIONS: dict[ApiKey, tuple[int, int]] = {
    ApiKey.PRODUCE: (0, 0),
    ApiKey.FETCH: (0, 0),
    ApiKey.LIST_OFFSETS: (0, 0),
    ApiKey.METADATA: (0, 0),
    ApiKey.API_VERSIONS: (0, 0),
    ApiKey.CREATE_TOPICS: (0, 0),
    ApiKey.DELETE_TOPICS: (0, 0),
    ApiKey.INIT_PRODUCER_ID: (0, 0),
    # consumer groups
    ApiKey.FIND_COORDINATOR: (0, 0),
    ApiKey.JOIN_GROUP: (0, 0),
    ApiKey.SYNC_GROUP: (0, 0),
    ApiKey.HEARTBEAT: (0, 0),
    ApiKey.LEAVE_GROUP: (0, 0),
    ApiKey.LIST_GROUPS: (0, 0),
    ApiKey.DESCRIBE_GROUPS: (0, 0),
    ApiKey.OFFSET_COMMIT: (0, 0),
    ApiKey.OFFSET_FETCH: (0, 0),
    ApiKey.LEADER_AND_ISR: (0, 0),
    ApiKey.STOP_REPLICA: (0, 0),
    ApiKey.UPDATE_METADATA: (0, 0),
    ApiKey.CONTROLLED_SHUTDOWN: (0, 0),
    ApiKey.OFFSETS_FOR_LEADER_EPOCH: (0, 0),
}

# Produce acks: 0 = no response at all, 1 = after the leader's append, -1 = "all",
# after every in-sync replica has the batch.
ACKS_NONE = 0
ACKS_LEADER = 1
ACKS_ALL = -1

# ListOffsets timestamps with a special meaning (Kafka's values).
LATEST_TIMESTAMP = -1     # the high watermark: the offset the next record will get
EARLIEST_TIMESTAMP = -2   # the log start offset

# Fetch replica_id of an ordinary consumer (followers send their broker id).
CONSUMER_REPLICA_ID = -1

# Produce response log_append_time when the topic uses CreateTime timestamps.
NO_TIMESTAMP = -1
