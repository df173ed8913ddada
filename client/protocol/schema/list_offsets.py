"""ListOffsets (api key 2): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 2
NAME = "ListOffsets"
VERSIONS = "0-8"
FLEXIBLE = "6+"

REQUEST = """
replica_id int32
isolation_level int8 2+
topics []ListOffsetsTopic
  name string
  partitions []ListOffsetsPartition
    partition_index int32
    current_leader_epoch int32 4+ default=-1
    timestamp int64
    max_num_offsets int32 0 default=1
"""

RESPONSE = """
throttle_time_ms int32 2+
topics []ListOffsetsTopicResponse
  name string
  partitions []ListOffsetsPartitionResponse
    partition_index int32
    error_code int16
    old_style_offsets []int64 0
    timestamp int64 1+ default=-1
    offset int64 1+ default=-1
    leader_epoch int32 4+ default=-1
"""
