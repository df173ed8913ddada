"""OffsetFetch (api key 9): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 9
NAME = "OffsetFetch"
VERSIONS = "0-9"
FLEXIBLE = "6+"

REQUEST = """
group_id string 0-7
topics []OffsetFetchRequestTopic 0-7 nullable=2-7
  name string 0-7
  partition_indexes []int32 0-7
groups []OffsetFetchRequestGroup 8+
  group_id string 8+
  member_id string 9+ nullable=9+ default=null
  member_epoch int32 9+ default=-1
  topics []OffsetFetchRequestTopics 8+ nullable=8+
    name string 8+
    partition_indexes []int32 8+
require_stable bool 7+ default=false
"""

RESPONSE = """
throttle_time_ms int32 3+
topics []OffsetFetchResponseTopic 0-7
  name string 0-7
  partitions []OffsetFetchResponsePartition 0-7
    partition_index int32 0-7
    committed_offset int64 0-7
    committed_leader_epoch int32 5-7 default=-1
    metadata string 0-7 nullable=0-7
    error_code int16 0-7
error_code int16 2-7
groups []OffsetFetchResponseGroup 8+
  group_id string 8+
  topics []OffsetFetchResponseTopics 8+
    name string 8+
    partitions []OffsetFetchResponsePartitions 8+
      partition_index int32 8+
      committed_offset int64 8+
      committed_leader_epoch int32 8+ default=-1
      metadata string 8+ nullable=8+
      error_code int16 8+
  error_code int16 8+
"""
