"""OffsetDelete (api key 47, KIP-496): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 47
NAME = "OffsetDelete"
VERSIONS = "0"
FLEXIBLE = "none"

REQUEST = """
group_id string
topics []OffsetDeleteRequestTopic
  name string
  partitions []OffsetDeleteRequestPartition
    partition_index int32
"""

RESPONSE = """
error_code int16
throttle_time_ms int32
topics []OffsetDeleteResponseTopic
  name string
  partitions []OffsetDeleteResponsePartition
    partition_index int32
    error_code int16
"""
