"""OffsetCommit (api key 8): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 8
NAME = "OffsetCommit"
VERSIONS = "0-9"
FLEXIBLE = "8+"

REQUEST = """
group_id string
generation_id_or_member_epoch int32 1+ default=-1
member_id string 1+
group_instance_id string 7+ nullable=7+ default=null
retention_time_ms int64 2-4 default=-1
topics []OffsetCommitRequestTopic
  name string
  partitions []OffsetCommitRequestPartition
    partition_index int32
    committed_offset int64
    committed_leader_epoch int32 6+ default=-1
    commit_timestamp int64 1 default=-1
    committed_metadata string nullable=0+
"""

RESPONSE = """
throttle_time_ms int32 3+
topics []OffsetCommitResponseTopic
  name string
  partitions []OffsetCommitResponsePartition
    partition_index int32
    error_code int16
"""
