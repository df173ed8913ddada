"""OffsetForLeaderEpoch (api key 23): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 23
NAME = "OffsetForLeaderEpoch"
VERSIONS = "0-4"
FLEXIBLE = "4+"

REQUEST = """
replica_id int32 3+ default=-2
topics []OffsetForLeaderTopic
  topic string
  partitions []OffsetForLeaderPartition
    partition int32
    current_leader_epoch int32 2+ default=-1
    leader_epoch int32
"""

RESPONSE = """
throttle_time_ms int32 2+
topics []OffsetForLeaderTopicResult
  topic string
  partitions []EpochEndOffset
    error_code int16
    partition int32
    leader_epoch int32 1+ default=-1
    end_offset int64 default=-1
"""
